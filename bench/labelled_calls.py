"""Labelled synthetic call transcripts for the queue benchmark: which calls must be heard.

Writes two JSON-lines files in the format of ``earmark rubric apply --transcripts``
(``call_id``, ``language``, ``duration_s``, ``utterances``), one call a line, with an
extra ``label`` object that ``rubric apply`` ignores::

    {"call_id": "dev-en-0007", "language": "en", "duration_s": 243.5, "utterances": [...],
     "label": {"must_hear": true, "kind": "dissatisfaction", "moments": [[88.1, 91.9]]}}

``moments`` are the must-hear lines (start, end); an inspector has heard the call when
their plan covers one of them (``off_script`` calls have none: any plan will do).

Calls are built from templates, in English, Chinese and Russian. Kinds:

- must be heard: ``profanity`` and ``unprofessional`` (the agent's conduct: swearing;
  blaming, condescending, dismissing, sarcasm), ``dissatisfaction`` (the customer says
  they are unhappy, in varied words), ``escalation`` (asks for a manager, threatens to
  complain or leave), ``off_script`` (a critical miss: no greeting, no identification,
  no verification, no closing: the agent ran the call off the script);
- need not be heard: ``fine`` (every scripted item) and ``minor_miss`` (one of greeting,
  self-identification or closing missing), some with harmless words that sound like a
  signal ("my manager at work asked me to call", "no complaints").

The **dev** set (to tune the queue on) and the **held-out** set are drawn from
DIFFERENT template families: every line a call is made of (greetings, complaints,
conduct, filler) has two disjoint wordings, ``A`` for dev and ``B`` for held-out, so
held-out numbers say how the queue does on wording it was not tuned on.

Run: ``python bench/labelled_calls.py [--out .state/bench/queue]`` (deterministic: ``--seed``).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

MUST_HEAR = ("profanity", "unprofessional", "dissatisfaction", "escalation", "off_script")
NEED_NOT = ("fine", "minor_miss")
MIX: Mapping[str, float] = {
    "fine": 0.34,
    "minor_miss": 0.30,
    "profanity": 0.05,
    "unprofessional": 0.08,
    "dissatisfaction": 0.09,
    "escalation": 0.08,
    "off_script": 0.06,
}
"""Share of each kind: about a third of the calls must be heard."""

Lines = Mapping[str, Sequence[str]]

# Each language: slot -> family -> lines. ``A`` makes the dev set, ``B`` the held-out set.
T: dict[str, dict[str, dict[str, list[str]]]] = {
    "en": {
        "greeting": {
            "A": [
                "Good morning, thanks for calling Northwind, how can I help?",
                "Thank you for calling Acme support, how may I help you today?",
                "Hello and welcome to Contoso billing.",
                "Good afternoon, you've reached the Fabrikam help desk.",
            ],
            "B": [
                "Hi, thanks so much for getting in touch with Litware.",
                "Good evening, Tailspin customer care, what can I do for you?",
                "Hello, you're through to the Adatum accounts team.",
                "Thank you for choosing Proseware, how can we help?",
            ],
        },
        "self_id": {
            "A": [
                "My name is Sarah.",
                "You're speaking with Tom.",
                "My name's Raj, I'll be helping you.",
            ],
            "B": [
                "I'm Jess and I'll be your advisor today.",
                "You are talking to Mark.",
                "My agent ID is 4471, I'm Dana.",
            ],
        },
        "issue": {
            "A": [
                "Hi, I was charged twice for my phone bill this month.",
                "My internet has been dropping out every evening.",
                "I never received the refund you promised last week.",
            ],
            "B": [
                "Hello, my new router still isn't working.",
                "There's a fee on my statement I don't recognise.",
                "I moved house and my service hasn't been transferred.",
            ],
        },
        "verify": {
            "A": [
                "Before we go further, can I have your full name and date of birth?",
                "For security purposes could you confirm the first line of your address?",
            ],
            "B": [
                "Could you read me the last four digits of the card on the account?",
                "I just need to verify your identity, what's your account number?",
            ],
        },
        "details": {
            "A": [
                "Sure, it's Alex Morgan, fourth of May nineteen eighty.",
                "It's twelve Baker Street.",
            ],
            "B": ["The last four are two three nine one.", "It's A C nine nine four two."],
        },
        "agent_filler": {
            "A": [
                "Let me pull up your account.",
                "I can see the payment on the fifth.",
                "I'm just checking the notes on this.",
                "Okay, I've updated that for you.",
                "That should show on your next statement.",
            ],
            "B": [
                "Give me one moment while I look at the history.",
                "Right, the order went out on Tuesday.",
                "I'm going to raise a ticket with the engineers.",
                "The change will take effect within two days.",
                "I've added a note to the account.",
            ],
        },
        "customer_filler": {
            "A": [
                "Okay.",
                "Right, I see.",
                "Yes, that's the one.",
                "Alright, thanks.",
                "And when will that be done?",
            ],
            "B": ["Mhm.", "Sure.", "Yes, correct.", "Got it.", "How long will that take?"],
        },
        "empathy": {
            "A": [
                "I'm sorry to hear that, let me fix it.",
                "I understand how frustrating that must be.",
            ],
            "B": [
                "Sorry for the inconvenience, I'll sort this out.",
                "I can see why you're upset, that shouldn't have happened.",
            ],
        },
        "closing": {
            "A": [
                "Is there anything else I can help you with? Have a great day.",
                "Thanks for calling, have a lovely day.",
            ],
            "B": [
                "Anything else I can do for you today? Take care.",
                "Thank you for your patience, goodbye.",
            ],
        },
        "dissatisfaction": {
            "A": [
                "This is ridiculous, I've called three times already.",
                "I'm really not happy with this service.",
                "This is absolutely unacceptable.",
                "Your service is terrible.",
            ],
            "B": [
                "Honestly this service really sucks.",
                "Nobody cared the last time I called either.",
                "Why are you cheating us with these fees?",
                "You will unfortunately lose me as a customer.",
            ],
        },
        "escalation": {
            "A": [
                "I want to speak to your supervisor.",
                "Put me through to your manager, please.",
                "I want to make a formal complaint.",
            ],
            "B": [
                "Get me someone more senior right now.",
                "I'm going to report you to the ombudsman.",
                "Can I talk to whoever is in charge there?",
            ],
        },
        "profanity": {
            "A": ["That's not my problem.", "Oh for God's sake, just listen."],
            "B": ["What the hell do you want me to do about it?", "Damn it, I told you already."],
        },
        "unprofessional": {
            "A": [
                "You should have read the terms before you signed up.",
                "You need to calm down.",
                "Listen, I've already told you that twice. Pay attention.",
            ],
            "B": [
                "Well, that's your fault for not checking.",
                "I don't know what you expect me to do, honestly.",
                "Obviously you didn't read the email we sent.",
            ],
        },
        "harmless": {
            "A": [
                "My manager at work asked me to sort this out.",
                "No complaints about the engineer, he was great.",
            ],
            "B": [
                "My supervisor said I should call you.",
                "I'm not unhappy, I just want to check.",
            ],
        },
    },
    "zh": {
        "greeting": {
            "A": [
                "您好，欢迎致电星河客服，很高兴为您服务。",
                "感谢您的来电，请问有什么可以帮您？",
                "您好，欢迎来电，请问有什么需要？",
            ],
            "B": [
                "您好，这里是蓝天宽带客服中心，请讲。",
                "感谢致电，请问您需要办理什么业务？",
                "您好，很高兴为你服务。",
            ],
        },
        "self_id": {
            "A": ["我的工号是三零二五。", "我是客服小王，工号是一二八。"],
            "B": ["我的工号为五五六。", "本次为您服务的是工号八八一的客服。"],
        },
        "issue": {
            "A": [
                "我这个月的话费被重复扣了。",
                "我家的宽带晚上老是断线。",
                "上周说好的退款我到现在还没收到。",
            ],
            "B": [
                "我新买的路由器一直连不上。",
                "账单上有一笔我不认识的费用。",
                "我搬家了，宽带还没有迁过去。",
            ],
        },
        "verify": {
            "A": ["请您提供一下身份证号后四位。", "麻烦报一下您的注册手机号。"],
            "B": ["请问您预留的联系电话是多少？", "请提供一下证件号后六位，核实一下身份。"],
        },
        "details": {
            "A": ["后四位是三七二一。", "一三八零零一二三四五六。"],
            "B": ["是一五九八八七六五四三二。", "后六位是零一二三四五。"],
        },
        "agent_filler": {
            "A": [
                "我帮您查一下账户。",
                "我看到五号有一笔扣款。",
                "我正在看一下记录。",
                "好的，已经帮您修改了。",
                "下个月账单会显示的。",
            ],
            "B": [
                "请稍等，我查一下历史记录。",
                "订单是周二发出的。",
                "我给技术部门提交一个工单。",
                "两天内会生效。",
                "我在账户上做了备注。",
            ],
        },
        "customer_filler": {
            "A": ["好的。", "嗯，明白了。", "对，就是这个。", "行，谢谢。", "那什么时候能处理好？"],
            "B": ["嗯嗯。", "可以。", "对的。", "知道了。", "大概要多久？"],
        },
        "empathy": {
            "A": ["非常理解您的心情，我马上帮您处理。", "给您带来不便，非常抱歉。"],
            "B": ["理解您的着急，我这边尽快跟进。", "实在不好意思，让您久等了。"],
        },
        "closing": {
            "A": [
                "请问还有什么可以帮您的吗？祝您生活愉快。",
                "还有其他问题吗？感谢您的来电，再见。",
            ],
            "B": ["还有什么需要吗？稍后请对我的服务做出评价，再见。", "还有别的需要吗？祝您愉快。"],
        },
        "dissatisfaction": {
            "A": [
                "你们这是什么破服务啊！",
                "我对这个处理结果很不满意。",
                "太过分了，凭什么扣我的钱？",
                "服务太差了。",
            ],
            "B": [
                "呵呵，真是高质量的服务。",
                "垃圾APP，根本用不了。",
                "你们这不是坑人吗？",
                "真的太失望了，我要销户。",
            ],
        },
        "escalation": {
            "A": ["我要投诉你们。", "让你们领导来接电话。", "我要找你们主管。"],
            "B": ["我要打工信部电话反映这个问题。", "把你们经理叫来。", "我要去消协举报你们。"],
        },
        "profanity": {
            "A": ["你有病吧。", "烦死了，你到底听不听得懂？"],
            "B": ["你是不是傻？", "滚，别再打电话来了。"],
        },
        "unprofessional": {
            "A": [
                "跟我说没用。",
                "这是你自己的问题，不关我们的事。",
                "我已经说了两遍了，你认真听好吗？",
            ],
            "B": [
                "你自己不看合同怪谁？",
                "你冷静一点行不行。",
                "这个我也没办法，你爱怎么样怎么样。",
            ],
        },
        "harmless": {
            "A": ["我们单位领导让我打电话问一下。", "师傅上门服务很好，没什么不满意的。"],
            "B": ["我经理让我来确认一下。", "我不是投诉，只是想问一下。"],
        },
    },
    "ru": {
        "greeting": {
            "A": [
                "Добрый день, компания Северный ветер, слушаю вас.",
                "Здравствуйте, спасибо за звонок, чем могу помочь?",
                "Доброе утро, вас приветствует служба поддержки.",
            ],
            "B": [
                "Добрый вечер, горячая линия Альфа-связь.",
                "Здравствуйте, рады вашему звонку.",
                "Приветствую, отдел обслуживания клиентов.",
            ],
        },
        "self_id": {
            "A": ["Меня зовут Анна.", "С вами говорит Дмитрий."],
            "B": ["Вам отвечает оператор Ольга.", "На связи специалист Игорь."],
        },
        "issue": {
            "A": [
                "У меня дважды списали оплату за телефон.",
                "Интернет каждый вечер пропадает.",
                "Мне так и не вернули деньги, которые обещали.",
            ],
            "B": [
                "Новый роутер до сих пор не работает.",
                "В выписке есть платёж, которого я не делал.",
                "Я переехал, а услугу так и не перенесли.",
            ],
        },
        "verify": {
            "A": [
                "Назовите, пожалуйста, номер договора.",
                "Подскажите номер телефона, привязанный к счёту.",
            ],
            "B": [
                "Продиктуйте, пожалуйста, номер лицевого счета.",
                "Для проверки назовите серию и номер паспорта.",
            ],
        },
        "details": {
            "A": [
                "Номер договора сорок два семьдесят.",
                "Восемь девятьсот шестнадцать, сто двадцать три.",
            ],
            "B": [
                "Лицевой счёт пять пять три один.",
                "Сорок пять ноль девять, номер один два три.",
            ],
        },
        "agent_filler": {
            "A": [
                "Сейчас открою ваш счёт.",
                "Вижу платёж от пятого числа.",
                "Проверяю комментарии по заявке.",
                "Хорошо, я всё исправила.",
                "Это отразится в следующей выписке.",
            ],
            "B": [
                "Одну минуту, посмотрю историю.",
                "Заказ отправили во вторник.",
                "Я оформлю заявку для техников.",
                "Изменения вступят в силу через два дня.",
                "Я оставил отметку в карточке клиента.",
            ],
        },
        "customer_filler": {
            "A": ["Хорошо.", "Понятно.", "Да, это он.", "Ладно, спасибо.", "А когда это сделают?"],
            "B": ["Угу.", "Да.", "Верно.", "Ясно.", "Сколько это займёт?"],
        },
        "empathy": {
            "A": [
                "Понимаю ваше беспокойство, сейчас всё решим.",
                "Приношу извинения за неудобства.",
            ],
            "B": ["Понимаю ваше недовольство, давайте разберёмся.", "Сожалею, что так получилось."],
        },
        "closing": {
            "A": [
                "Могу ли я ещё чем-то помочь? Всего доброго.",
                "Остались ещё вопросы? Спасибо за звонок, до свидания.",
            ],
            "B": [
                "Чем ещё могу быть полезна? Хорошего дня.",
                "Есть ещё какие-нибудь вопросы? До свидания.",
            ],
        },
        "dissatisfaction": {
            "A": [
                "Это просто безобразие!",
                "Ужасное обслуживание.",
                "Я очень недоволен вашей работой.",
                "Кошмар, третий раз звоню.",
            ],
            "B": [
                "Вы издеваетесь надо мной?",
                "Сколько можно водить меня за нос?",
                "Больше никогда не буду с вами связываться.",
                "Да вам вообще плевать на клиентов.",
            ],
        },
        "escalation": {
            "A": [
                "Позовите вашего руководителя.",
                "Я хочу поговорить с начальником.",
                "Я буду писать жалобу.",
            ],
            "B": [
                "Соедините меня со старшим.",
                "Я пойду в Роспотребнадзор.",
                "Дайте мне того, кто принимает решения.",
            ],
        },
        "profanity": {
            "A": ["Да отстаньте вы, это не моя проблема.", "Вы что, совсем тупой?"],
            "B": ["Блин, сколько можно повторять?", "Идите вы со своими претензиями."],
        },
        "unprofessional": {
            "A": [
                "Я вам уже два раза объяснил, слушайте внимательнее.",
                "Успокойтесь, пожалуйста, и не кричите.",
                "Надо было читать договор.",
            ],
            "B": [
                "Сами виноваты, что не проверили.",
                "Ну и что вы от меня хотите?",
                "Это ваши проблемы, а не наши.",
            ],
        },
        "harmless": {
            "A": [
                "Мой руководитель на работе попросил позвонить.",
                "К мастеру претензий нет, он молодец.",
            ],
            "B": ["Начальник отдела попросил уточнить.", "Я не жалуюсь, просто хочу проверить."],
        },
    },
}


def _pick(rng: random.Random, lang: str, slot: str, family: str) -> str:
    return rng.choice(T[lang][slot][family])


def make_call(
    rng: random.Random, *, call_id: str, lang: str, kind: str, family: str
) -> dict[str, Any]:
    """One call of ``kind`` in ``lang`` from template family ``family`` (a dict ready to dump)."""
    missing: set[str] = set()
    if kind == "minor_miss":
        missing = {rng.choice(["greeting", "self_id", "closing"])}
    elif kind == "off_script":
        missing = {"greeting", "self_id", "verify", "closing", "empathy"}
    lines: list[tuple[str, str]] = []  # (speaker, text); times are laid out below
    opening = [s for s in ("greeting", "self_id") if s not in missing]
    lines += [("agent", _pick(rng, lang, s, family)) for s in opening]
    lines.append(("customer", _pick(rng, lang, "issue", family)))
    if "verify" not in missing:
        lines.append(("agent", _pick(rng, lang, "verify", family)))
        lines.append(("customer", _pick(rng, lang, "details", family)))
    middle = [
        (
            "agent" if i % 2 == 0 else "customer",
            _pick(rng, lang, f"{'agent' if i % 2 == 0 else 'customer'}_filler", family),
        )
        for i in range(rng.randint(14, 34))
    ]
    events: list[tuple[str, str]] = []
    if kind in ("dissatisfaction", "escalation"):
        events += [("customer", _pick(rng, lang, kind, family)) for _ in range(rng.randint(1, 2))]
    elif kind in ("profanity", "unprofessional"):
        events.append(("agent", _pick(rng, lang, kind, family)))
    for e in events:
        middle.insert(rng.randint(1, len(middle)), e)
    if kind in NEED_NOT and rng.random() < 0.3:
        middle.insert(
            rng.randint(1, len(middle)), ("customer", _pick(rng, lang, "harmless", family))
        )
    if "empathy" not in missing and (kind != "fine" or rng.random() < 0.9):
        middle.insert(rng.randint(1, len(middle)), ("agent", _pick(rng, lang, "empathy", family)))
    lines += middle
    if "closing" not in missing:
        lines.append(("agent", _pick(rng, lang, "closing", family)))
    timed = _timed(rng, lines)
    moments = [
        [u["start_s"], u["end_s"]]
        for u, line in zip(timed["utterances"], lines, strict=True)
        if any(line is e for e in events)
    ]
    return {
        "call_id": call_id,
        "language": lang,
        **timed,
        "label": {"must_hear": kind in MUST_HEAR, "kind": kind, "moments": moments},
    }


def _timed(rng: random.Random, lines: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Lay the lines out in time: speech at ~2.6 words (or ~5 characters) a second,
    pauses of 0.4–6 s between turns, the odd longer silence while the agent looks."""
    t = rng.uniform(0.3, 1.5)
    utts = []
    for speaker, text in lines:
        units = len(text.split()) if " " in text else max(1, len(text) // 2)
        length = max(1.2, units / rng.uniform(2.2, 3.0))
        utts.append(
            {
                "speaker": speaker,
                "start_s": round(t, 2),
                "end_s": round(t + length, 2),
                "text": text,
            }
        )
        t += length + (rng.uniform(4, 12) if rng.random() < 0.08 else rng.uniform(0.4, 2.5))
    return {"duration_s": round(t + rng.uniform(1, 4), 2), "utterances": utts}


def iter_calls(*, split: str, per_language: int, seed: int) -> Iterator[dict[str, Any]]:
    """The calls of one set (``dev`` from family A, ``heldout`` from family B), lazily."""
    family = {"dev": "A", "heldout": "B"}[split]
    rng = random.Random(f"{seed}-{split}")
    kinds = list(MIX)
    for lang in ("en", "zh", "ru"):
        counts = {k: round(MIX[k] * per_language) for k in kinds}
        plan = [k for k in kinds for _ in range(counts[k])]
        rng.shuffle(plan)
        for n, kind in enumerate(plan):
            yield make_call(
                rng, call_id=f"{split}-{lang}-{n:04d}", lang=lang, kind=kind, family=family
            )


def write_sets(out: Path, *, per_language: int = 100, seed: int = 13) -> dict[str, Path]:
    """Write ``dev.jsonl`` and ``heldout.jsonl`` under ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in ("dev", "heldout"):
        path = out / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for call in iter_calls(split=split, per_language=per_language, seed=seed):
                f.write(json.dumps(call, ensure_ascii=False) + "\n")
        paths[split] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=".state/bench/queue", help="folder for dev.jsonl, heldout.jsonl"
    )
    parser.add_argument("--per-language", type=int, default=100, help="calls per language per set")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    for split, path in write_sets(
        Path(args.out), per_language=args.per_language, seed=args.seed
    ).items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
