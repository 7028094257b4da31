"""Homophone typos of road names, as hand-keyed addresses carry them (和田路 for 禾田路, 欣围路 for 新围路).

A department clerk types pinyin and picks the wrong character of the same sound. :func:`road_typos` derives,
for every road of the library, the names one such slip gives: one character of the road's proper name (never
its 路 / 街 / 大道 suffix, never a numeral) replaced by a common character read the same (same pinyin and
tone, or failing that the same pinyin in another tone), dropping any result that is itself a road of the
library. Readings come from pypinyin; the candidate characters from :data:`COMMON_CHARS`, a small built-in
list, so the typos are the ones an input method offers first. The result is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from pypinyin import Style, lazy_pinyin

#: Common characters an input method offers (a few hundred, including the usual homophones of road names).
COMMON_CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去"
    "行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面定见只主没公从知使全实文"
    "已点手把江湖河海山石桥林森华新欣鑫馨星兴东冬栋西溪希熙南楠男难北城成诚程龙隆珑岭领玲凌宁青清轻倾庆晴卿"
    "鹿禄陆露达德闻纹蚊雯温建健件剑荐鉴箭坚设社射舍涉摄仁任壬民敏闽皿解姐界借介放芳访防房钟忠终众衷衫杉珊删"
    "善滨宾彬斌缤冰姜疆浆僵禾河合何荷核围维伟卫位委未味胡壶糊葫狐弧互户护虎化话画划桦乔侨荞巧时识食拾蚀十"
    "金锦今津紫梓子字自花桂贵柜鬼园源元圆原缘远苑院愿怨和平萍苹屏凭瓶评安鞍岸暗红宏洪虹鸿弘泓云芸匀运韵允"
    "阳杨洋扬羊仰养光广桃陶淘涛逃松宋送颂翠粹萃脆碧必毕璧壁秀绣袖锈嘉佳家加夹明名鸣铭茗朝潮巢超兰蓝澜岚篮"
    "丰风峰枫锋封蜂富福府复附符幸杏性姓信美梅媚玫湾弯丸完玩景井境静镜竞敬泰太态台汰顺舜瞬乐勒叶业页夜野"
)
#: Suffixes of road names that are never mistyped (the type of the way, not its name).
ROAD_SUFFIXES = ("大道", "大街", "路", "街", "道", "巷", "弄", "里")
#: How many of a character's homophones count as likely slips (the first ones of :data:`COMMON_CHARS`).
TYPOS_PER_CHARACTER = 4
_NUMERALS = set("一二三四五六七八九十百零")


@cache
def _readings() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Common characters by reading with tone (``xin1``) and without (``xin``), in :data:`COMMON_CHARS` order."""
    toned: dict[str, list[str]] = {}
    plain: dict[str, list[str]] = {}
    seen: set[str] = set()
    for ch in COMMON_CHARS:
        if ch in seen:
            continue
        seen.add(ch)
        toned.setdefault(_toned(ch), []).append(ch)
        plain.setdefault(_plain(ch), []).append(ch)
    return toned, plain


def _toned(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True)[0]


def _plain(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.NORMAL)[0]


def homophones(ch: str) -> list[str]:
    """Common characters read like ``ch``: same pinyin and tone, else same pinyin in another tone."""
    toned, plain = _readings()
    same = [c for c in toned.get(_toned(ch), []) if c != ch]
    return same or [c for c in plain.get(_plain(ch), []) if c != ch]


def _split_suffix(road: str) -> tuple[str, str]:
    for suffix in ROAD_SUFFIXES:
        if road.endswith(suffix) and len(road) > len(suffix):
            return road[: -len(suffix)], suffix
    return road, ""


def road_typos(roads: Iterable[str]) -> dict[str, list[str]]:
    """Road → its one-character homophone typos (sorted), for every road that has some."""
    names = sorted({r for r in roads if r})
    real = set(names)
    out: dict[str, list[str]] = {}
    for road in names:
        stem, suffix = _split_suffix(road)
        typos = {
            stem[:i] + c + stem[i + 1 :] + suffix
            for i, ch in enumerate(stem)
            if ch not in _NUMERALS
            for c in homophones(ch)[:TYPOS_PER_CHARACTER]
        }
        typos -= real
        if typos:
            out[road] = sorted(typos)
    return out
