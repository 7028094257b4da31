"""The six department feeds of the sample district as ``gridhub.yaml`` describes them: file, encoding, headers,
column mapping, value maps, date formats, and the malformed rows each one carries on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse.reasons import ReasonCode


@dataclass
class FeedSpec:
    """How one feed is written and described in gridhub.yaml."""

    name: str
    department: str
    description: str
    file_name: str
    encoding: str  # how the file is written
    config_encoding: str  # what gridhub.yaml declares (``auto`` for one feed)
    newline: str
    headers: tuple[str, ...]
    columns: dict[str, str]  # source header → staging field
    record_id: str
    entities: tuple[str, ...]
    date_formats: tuple[str, ...]
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    address_relation: str | None = None
    priority: int = 50
    required: tuple[str, ...] = ()
    owner_kind: str | None = None  # what the person columns name: person / organisation / auto (per row)
    malformed: tuple[ReasonCode, ...] = ()

    @property
    def contact(self) -> str:
        """The department's (fictional) data contact: the owner link of the feed's DAG in the Airflow UI."""
        return f"mailto:shuju-{self.name.split('_')[0]}@qingshi.example"

    def config(self) -> dict:
        """The feed's entry in gridhub.yaml (loads as :class:`gridhub.config.Feed`)."""
        entry: dict = {
            "name": self.name,
            "department": self.department,
            "description": self.description,
            "contact": self.contact,
            "source": {"kind": "file", "glob": "*.csv", "format": "csv", "encoding": self.config_encoding},
            "entities": list(self.entities),
            "record_id": self.record_id,
            "columns": dict(self.columns),
        }
        if self.value_maps:
            entry["value_maps"] = self.value_maps
        entry["date_formats"] = list(self.date_formats)
        if self.required:
            entry["required"] = list(self.required)
        if self.address_relation:
            entry["address_relation"] = self.address_relation
        if self.owner_kind:
            entry["owner_kind"] = self.owner_kind
        entry["priority"] = self.priority
        return entry


SEX_ZH = {"M": "男", "F": "女"}
SEX_NUM = {"M": "1", "F": "2"}

SPECS: dict[str, FeedSpec] = {
    s.name: s
    for s in (
        FeedSpec(
            name="gongan_population",
            department="公安",
            description="实有人口(户籍+流动), 派出所人口信息系统导出",
            file_name="实有人口_202506.csv",
            encoding="gb18030",
            config_encoding="gb18030",
            newline="\r\n",
            headers=(
                "记录编号",
                "姓名",
                "性别",
                "公民身份号码",
                "出生日期",
                "民族",
                "联系电话",
                "户籍地址",
                "现住址",
                "人口类型",
            ),
            columns={
                "记录编号": "source_record_id",
                "姓名": "name",
                "性别": "sex",
                "公民身份号码": "id_number",
                "出生日期": "birth_date",
                "民族": "ethnicity",
                "联系电话": "phone",
                "户籍地址": "hukou_address",
                "现住址": "address",
                "人口类型": "population_type",
            },
            record_id="记录编号",
            entities=("person",),
            date_formats=("%Y%m%d",),
            value_maps={"sex": {"男": "M", "女": "F"}},
            address_relation="居住",
            priority=90,
            required=("name", "id_number"),
            malformed=(ReasonCode.RAGGED_ROW, ReasonCode.INVALID_DATE),
        ),
        FeedSpec(
            name="minzheng_assistance",
            department="民政",
            description="救助对象与老年人名册",
            file_name="救助对象名册.csv",
            encoding="utf-8-sig",
            config_encoding="utf-8-sig",
            newline="\r\n",
            headers=(
                "救助编号",
                "姓名",
                "性别",
                "身份证号",
                "出生日期",
                "救助类别",
                "联系电话",
                "家庭住址",
                "所属社区",
                "登记日期",
            ),
            columns={
                "救助编号": "source_record_id",
                "姓名": "name",
                "性别": "sex",
                "身份证号": "id_number",
                "出生日期": "birth_date",
                "救助类别": "assistance_type",
                "联系电话": "phone",
                "家庭住址": "address",
                "登记日期": "record_date",
            },
            record_id="救助编号",
            entities=("person",),
            date_formats=("%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d", "%Y%m%d"),
            value_maps={"sex": {"男": "M", "女": "F", "1": "M", "2": "F"}},
            address_relation="居住",
            priority=50,
            required=("name",),
            malformed=(ReasonCode.MISSING_RECORD_ID, ReasonCode.INVALID_DATE),
        ),
        FeedSpec(
            name="renshe_insured",
            department="人社",
            description="参保人员及参保单位 (拼音首字母表头)",
            file_name="cbry_2025q2.csv",
            encoding="utf-8",
            config_encoding="utf-8",
            newline="\n",
            headers=("xh", "xm", "xb", "sfzh", "csrq", "lxdh", "dwmc", "tyshxydm", "jzdz"),
            columns={
                "xh": "source_record_id",
                "xm": "name",
                "xb": "sex",
                "sfzh": "id_number",
                "csrq": "birth_date",
                "lxdh": "phone",
                "dwmc": "org_name",
                "tyshxydm": "credit_code",
                "jzdz": "address",
            },
            record_id="xh",
            entities=("person", "organisation"),
            date_formats=("%Y/%m/%d", "%Y-%m-%d", "%Y%m%d"),
            value_maps={"sex": {"1": "M", "2": "F"}},
            address_relation="居住",
            priority=60,
            required=("name",),
            malformed=(ReasonCode.INVALID_DATE, ReasonCode.RAGGED_ROW),
        ),
        FeedSpec(
            name="shichang_orgs",
            department="市场监管",
            description="市场主体登记信息",
            file_name="市场主体_青石区.csv",
            encoding="utf-8",
            config_encoding="utf-8",
            newline="\n",
            headers=(
                "主体身份代码",
                "统一社会信用代码",
                "企业名称",
                "法定代表人",
                "法定代表人证件号码",
                "注册地址",
                "经营地址",
                "成立日期",
                "登记状态",
                "行业",
                "联系电话",
            ),
            columns={
                "主体身份代码": "source_record_id",
                "统一社会信用代码": "credit_code",
                "企业名称": "org_name",
                "法定代表人": "legal_rep",
                "法定代表人证件号码": "legal_rep_id",
                "注册地址": "org_address",
                "经营地址": "org_business_address",
                "成立日期": "established",
                "登记状态": "org_status",
                "行业": "industry",
                "联系电话": "org_phone",
            },
            record_id="主体身份代码",
            entities=("organisation",),
            date_formats=("%Y-%m-%d", "%Y年%m月%d日"),
            priority=80,
            required=("org_name",),
            malformed=(),
        ),
        FeedSpec(
            name="zhujian_houses",
            department="住建",
            description="房屋基础信息 (产权登记)",
            file_name="房屋信息.csv",
            encoding="gb18030",
            config_encoding="auto",
            newline="\r\n",
            headers=(
                "登记编号",
                "房屋编号",
                "房屋坐落",
                "用途",
                "建筑面积",
                "是否出租",
                "产权人",
                "产权人证件号",
            ),
            columns={
                "登记编号": "source_record_id",
                "房屋编号": "house_code",
                "房屋坐落": "address",
                "用途": "house_use",
                "建筑面积": "house_area",
                "是否出租": "rented",
                "产权人": "name",
                "产权人证件号": "id_number",
            },
            record_id="登记编号",
            entities=("house", "person"),
            date_formats=("%Y-%m-%d",),
            value_maps={"rented": {"是": "true", "否": "false"}},
            address_relation="产权",
            owner_kind="auto",  # 产权人 is a person or a company (its 证件号 a credit code)
            priority=70,
            malformed=(ReasonCode.MISSING_RECORD_ID,),
        ),
        FeedSpec(
            name="yingji_facilities",
            department="应急管理",
            description="消防栓、监控、避难场所等设施台账",
            file_name="设施台账.csv",
            encoding="utf-8",
            config_encoding="utf-8",
            newline="\n",
            headers=("设施编号", "设施类型", "设施名称", "地址", "经度", "纬度", "责任单位", "状态"),
            columns={
                "设施编号": "source_record_id",
                "设施类型": "facility_type",
                "设施名称": "facility_name",
                "地址": "address",
                "经度": "lon",
                "纬度": "lat",
                "责任单位": "responsible",
                "状态": "facility_status",
            },
            record_id="设施编号",
            entities=("facility",),
            date_formats=("%Y-%m-%d",),
            priority=60,
            required=("facility_type",),
            malformed=(),
        ),
    )
}
