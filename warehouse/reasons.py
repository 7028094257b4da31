"""Reason codes for quarantined rows, field issues and whole-file errors, in one enum.

Every row that does not reach staging lands in the ``quarantine`` table with one of these codes; every value
staging dropped from (or noted on) a staged row is a *field issue* with one of them (``connectors.rules``); the
descriptions (Chinese first, for the department clerk; English second, for the engineer) are what the
summary, the quarantine export and the upload portal show. Add a code here, never a string elsewhere.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    # row shape
    RAGGED_ROW = "ragged_row"
    UNPARSEABLE_ROW = "unparseable_row"
    ENCODING_ERROR = "encoding_error"
    CONTROL_CHARACTERS = "control_characters"
    FIELD_TOO_LONG = "field_too_long"
    # required values
    MISSING_RECORD_ID = "missing_record_id"
    DUPLICATE_RECORD_ID = "duplicate_record_id"
    MISSING_REQUIRED = "missing_required"
    # typed values
    INVALID_DATE = "invalid_date"
    INVALID_NUMBER = "invalid_number"
    INVALID_BOOL = "invalid_bool"
    UNMAPPED_VALUE = "unmapped_value"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    # a notice, never a problem: the value is staged as read
    DATE_FORMAT_NOT_LISTED = "date_format_not_listed"
    SUSPICIOUS_TEXT = "suspicious_text"
    NO_ORGANISATION = "no_organisation"
    # codes
    INVALID_ID_NUMBER = "invalid_id_number"
    MASKED_ID_NUMBER = "masked_id_number"
    INVALID_CREDIT_CODE = "invalid_credit_code"
    INVALID_ORG_CODE = "invalid_org_code"
    INVALID_COORDINATES = "invalid_coordinates"
    NUMERIC_CELL_LOST_DIGITS = "numeric_cell_lost_digits"
    # whole-file problems: the file is kept in raw, nothing of it is staged, the feed run fails
    EMPTY_FILE = "empty_file"
    HEADER_ONLY = "header_only"
    BINARY_CONTENT = "binary_content"
    WRONG_FORMAT = "wrong_format"
    UNREADABLE_ENCODING = "unreadable_encoding"
    UNREADABLE_FILE = "unreadable_file"
    MISSING_COLUMNS = "missing_columns"
    DUPLICATE_HEADER = "duplicate_header"
    SHEET_NOT_FOUND = "sheet_not_found"
    WORKBOOK_TOO_LARGE = "workbook_too_large"
    INVALID_PHONE = "invalid_phone"
    ID_MISMATCH = "id_mismatch"


REASON_TEXT: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.RAGGED_ROW: ("列数与表头不一致", "the row has more or fewer fields than the header"),
    ReasonCode.UNPARSEABLE_ROW: ("无法解析该行", "the row cannot be parsed (e.g. an unbalanced quote)"),
    ReasonCode.ENCODING_ERROR: (
        "该行含有无法识别的字符编码",
        "the row has bytes that are not valid in the file's encoding",
    ),
    ReasonCode.CONTROL_CHARACTERS: ("含有控制字符(如NUL)", "the row contains control characters such as NUL"),
    ReasonCode.FIELD_TOO_LONG: ("字段过长", "a field is longer than the configured maximum"),
    ReasonCode.MISSING_RECORD_ID: ("缺少记录编号", "the source record id is empty"),
    ReasonCode.DUPLICATE_RECORD_ID: (
        "记录编号重复",
        "the source record id repeats an earlier row of the same file",
    ),
    ReasonCode.MISSING_REQUIRED: ("必填字段为空", "a required field is empty"),
    ReasonCode.INVALID_DATE: ("日期无效", "the value is not a valid date in any configured format"),
    ReasonCode.INVALID_NUMBER: ("数值无效", "the value is not a number"),
    ReasonCode.INVALID_BOOL: ("是/否取值无效", "the value is not a recognised yes/no"),
    ReasonCode.UNMAPPED_VALUE: ("取值不在代码表中", "the value is not in the feed's value map"),
    ReasonCode.DATE_OUT_OF_RANGE: (
        "日期不合理(晚于今天或早于1900年等)",
        "the date makes no sense for the field (in the future, or before 1900)",
    ),
    ReasonCode.NUMBER_OUT_OF_RANGE: (
        "数值不合理(如面积为零、负数或过大)",
        "the number makes no sense for the field (e.g. an area that is zero, negative or huge)",
    ),
    ReasonCode.SUSPICIOUS_TEXT: (
        "内容可疑(像公式、网页代码、SQL语句或含表情符号)，已原样保存，请核实",
        "the text looks like a formula, markup, an SQL statement or holds emoji; stored as given, please check",
    ),
    ReasonCode.DATE_FORMAT_NOT_LISTED: (
        "日期已读取，但写法不是约定的格式(如应为YYYY-MM-DD)：请按约定格式报送",
        "the date was read, but it is not written in one of the feed's date_formats: please use the agreed form",
    ),
    ReasonCode.NO_ORGANISATION: (
        "单位名称表示无单位(如个人参保、灵活就业人员)：记录保留，不生成单位",
        "the organisation name means the record names no organisation (个人参保, 灵活就业人员 …): the record is "
        "kept, without an organisation",
    ),
    ReasonCode.INVALID_ORG_CODE: (
        "组织机构代码无效(校验码不符)",
        "the 9-character organisation code (组织机构代码, GB 11714) fails its check character",
    ),
    ReasonCode.INVALID_ID_NUMBER: ("身份证号无效", "the resident ID number fails its format or check digit"),
    ReasonCode.MASKED_ID_NUMBER: (
        "身份证号已脱敏(部分位以*代替)",
        "the resident ID number is masked (digits replaced by *), by the department's policy rather than an error",
    ),
    ReasonCode.INVALID_CREDIT_CODE: (
        "统一社会信用代码无效",
        "the credit code fails its format or check character",
    ),
    ReasonCode.INVALID_COORDINATES: ("坐标无效", "longitude / latitude are out of range"),
    ReasonCode.NUMERIC_CELL_LOST_DIGITS: (
        "编码(身份证号、统一社会信用代码、电话等)填在数字格式的单元格里，Excel数字最多保留15位有效数字，"
        "后面的位数已丢失：请把该列设置为文本格式，重新填写后再报送",
        "a code (ID number, credit code, phone...) is in a number cell and has lost digits: Excel stores at most "
        "15 significant digits; format the column as text, enter the values again and resend the file",
    ),
    ReasonCode.EMPTY_FILE: ("文件为空", "the file is empty"),
    ReasonCode.HEADER_ONLY: ("文件只有表头，没有数据行", "the file has a header but no data rows"),
    ReasonCode.BINARY_CONTENT: (
        "文件不是文本表格(可能是图片、压缩包或已损坏)",
        "the file is binary, not a text table",
    ),
    ReasonCode.WRONG_FORMAT: (
        "文件内容与扩展名不符(如把Excel文件改名为.csv)",
        "the file's content does not match its name (e.g. an xlsx workbook named .csv)",
    ),
    ReasonCode.UNREADABLE_ENCODING: (
        "无法识别文件的字符编码(请另存为UTF-8或GB18030)",
        "the file's character encoding cannot be read (save it as UTF-8 or GB18030)",
    ),
    ReasonCode.UNREADABLE_FILE: ("文件已损坏或无法打开", "the file is damaged or cannot be opened"),
    ReasonCode.MISSING_COLUMNS: ("缺少必需的列", "required columns are missing from the header"),
    ReasonCode.DUPLICATE_HEADER: ("表头中有重复的列名", "the header repeats a column name"),
    ReasonCode.SHEET_NOT_FOUND: ("找不到指定的工作表", "the configured sheet is not in the workbook"),
    ReasonCode.WORKBOOK_TOO_LARGE: (
        "Excel工作簿超出限制(解压后过大、行列过多或单元格过长)，已拒收：请删除空行空列、拆分后再报送",
        "the xlsx workbook passes a limit (inflated size, rows, columns, shared strings or cell length) and "
        "was refused: remove empty rows and columns, or split it, and send it again",
    ),
    ReasonCode.INVALID_PHONE: ("电话号码无效", "the phone number is neither a mobile nor a landline number"),
    ReasonCode.ID_MISMATCH: (
        "身份证号与出生日期/性别不一致",
        "birth date or sex disagrees with the resident ID number",
    ),
}


def describe(code: ReasonCode | str, lang: str = "zh") -> str:
    zh, en = REASON_TEXT[ReasonCode(code)]
    return zh if lang == "zh" else en
