"""Speed and exactness of the Japanese near-duplicate filter against rouge_score brute force.

Builds a synthetic pool of 50,000 varied Japanese instructions (templates × vocabulary, fixed seed,
15-80 characters, ~5% perturbed copies of earlier ones), then:

(a) speed: ``NearDuplicateIndex.max_similarity`` and ``is_duplicate`` for 50 candidates against the
    full pool, versus ``rouge_score``'s ``RougeScorer(["rougeL"])`` with our char tokenizer plugged in
    (``RougeScoreTokenizer``), scoring each candidate against every pool item, for as many candidates
    as fit in ~60 s; the per-candidate times give the speed-up (target >= 100x);
(b) exactness: 2,000 items processed in order, each checked against the items accepted before it,
    with both methods; the keep/drop decisions must be identical (0 disagreements). The brute force
    is Alpaca's filter with rouge_score: the pool's tokens computed once (a memoising tokenizer
    adapter), ``RougeScorer.score`` against every accepted item, stopping at the first score > 0.7
    (which does not change the decision), split over the available cores;
(c) cost share: ``filter_items`` over 52,000 synthetic generated items (instruction/input/output, ~2%
    of them malformed, too short, blacklisted or English), incrementally in one call (the pool grows
    with the accepted items), timed in full. The synthetic distribution saturates, so that pool stays
    small (a few thousand); a real teacher is more varied, so a worst case is timed as well: 2,000 items
    against a pool already holding 52,000 instructions (more than the run can ever accept), per-item
    time × 52,000. Both are compared with the generation time of 52,000 items at
    GENERATION_SECONDS_PER_ITEM = 1.0 s (a GPT-4-class teacher answering Alpaca's batch prompt of 20
    tasks in ~20 s per call); both shares must stay below 5%.

    python bench/dedup_speed.py [--pool 50000] [--brute-seconds 60] [--sample 2000] [--workers N]

Finishes in about 3-4 minutes on 2 cores (mostly rouge_score brute force). The last line holds the figures
as key=value pairs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from typing import Any

from rouge_score import rouge_scorer

from jp_bench.selfinstruct.dedup import NearDuplicateIndex
from jp_bench.selfinstruct.filters import FilterConfig, filter_items
from jp_bench.selfinstruct.tokenize import RougeScoreTokenizer, char_tokens

SEED = 20240601
THRESHOLD = 0.7
GENERATION_ITEMS = 52_000
# Generation cost per item: Alpaca asks a GPT-4-class teacher for 20 tasks per call, ~20 s a call.
GENERATION_SECONDS_PER_ITEM = 1.0
MIN_CHARS, MAX_CHARS = 15, 80

DOMAINS = [
    "日本の歴史", "江戸時代", "明治維新", "戦国時代", "平安文学", "俳句", "和歌", "茶道", "華道", "歌舞伎",
    "能楽", "浮世絵", "日本料理", "和菓子", "寿司", "ラーメン", "発酵食品", "日本酒", "温泉", "富士山",
    "北海道", "沖縄", "京都", "大阪", "東京", "瀬戸内海", "光合成", "細胞分裂", "遺伝子", "進化論", "生態系",
    "気候変動", "地球温暖化", "再生可能エネルギー", "太陽光発電", "風力発電", "原子力", "電気自動車",
    "量子力学", "相対性理論", "ブラックホール", "宇宙探査", "火星", "月面着陸", "人工知能", "機械学習",
    "深層学習", "自然言語処理", "プログラミング", "データベース", "クラウド", "サイバーセキュリティ",
    "暗号資産", "ブロックチェーン", "インフレーション", "円安", "金融政策", "株式投資", "確定申告", "年金制度",
    "少子高齢化", "地方創生", "働き方改革", "テレワーク", "リーダーシップ", "チームワーク", "時間管理",
    "睡眠", "栄養", "筋力トレーニング", "マラソン", "ヨガ", "瞑想", "ストレス", "子育て", "教育制度",
    "英語学習", "読書", "作文", "プレゼンテーション", "交渉術", "マーケティング", "ブランド戦略",
    "起業", "経営戦略", "会計", "統計学", "確率", "微分積分", "線形代数", "幾何学", "素数", "化学反応",
    "元素", "火山", "地震", "台風", "天気予報", "森林", "海洋汚染", "リサイクル", "防災", "公衆衛生",
    "ワクチン", "免疫", "心理学", "哲学", "倫理", "民主主義", "選挙", "憲法", "国際関係", "観光", "鉄道",
    "建築", "デザイン", "写真撮影", "映画", "アニメ", "漫画", "音楽理論", "クラシック音楽", "ジャズ", "将棋",
    "囲碁", "サッカー", "野球", "相撲", "柔道", "ガーデニング", "ペットの飼い方", "家計管理", "料理の基本",
]
ASPECTS = [
    "歴史", "仕組み", "特徴", "メリット", "課題", "将来性", "基本", "魅力", "影響", "起源", "種類", "選び方",
    "楽しみ方", "注意点", "最新動向", "社会的意義", "よくある誤解", "学び方", "役割", "問題点",
]
# Request templates: {t} and {u} are topics, {n} a number, {c} an optional constraint ("" or "200字以内で").
TEMPLATES = [
    "{t}について{c}説明してください。", "{t}について{c}簡潔に教えてください。", "{t}とは何ですか？",
    "{t}の要点を{c}まとめてください。", "{t}に関する短いエッセイを{c}書いてください。",
    "{t}についての三択クイズを{n}問作ってください。", "{t}の長所と短所を{c}挙げてください。",
    "{t}を初心者向けに{c}解説してもらえますか。", "{t}について、よくある質問とその答えを{n}組書いてください。",
    "{t}をテーマにした俳句を一句詠んでください。", "{t}について友人に送るメールの文面を考えてください。",
    "{t}に関するブログ記事のタイトル案を{n}つ出して。", "{t}を学ぶための一週間の計画を立ててください。",
    "{t}の観点から現代社会の問題を一つ論じなさい。", "{t}について議論するときの論点を{c}整理してほしい。",
    "{t}をテーマにした短い物語を書いてください。", "{t}についての誤解を{n}つ指摘し、正しく説明してください。",
    "{t}と{u}の違いを{c}比較してください。", "{t}と{u}の共通点は何でしょうか。",
    "{t}の知識を{u}に応用する方法を提案してください。", "{t}と{u}の関係を{c}説明してみてください。",
    "なぜ{t}は重要なのですか？", "{t}が苦手な人へのアドバイスを{n}個ください。",
    "{t}の専門家にインタビューするなら、どんな質問をしますか。", "{t}について賛成と反対の意見を{c}書き分けて。",
    "{t}に関連するキーワードを{n}個挙げ、それぞれ一言で説明して。", "{t}を一言で表すとしたら何ですか。",
    "{t}をテーマにしたキャッチコピーを{n}案考えてください。", "{t}の入門書に載せる目次を作ってください。",
    "{t}について子どもに聞かれたら、どう答えますか？", "{t}の分野で活躍した人物を一人紹介してください。",
    "{t}の今後十年の予測を{c}述べてください。", "{t}に関する四字熟語やことわざはありますか。",
    "{t}と{u}のどちらを先に学ぶべきか、理由とともに答えて。", "{t}についてのディベートの立論を作成して。",
    "{t}を取り入れた{u}の授業案を考えてください。", "{t}にまつわる雑学を{n}つ教えて！",
    "{t}の基礎用語を{n}つ選び、用語集を作ってください。", "{t}に関する新聞記事の見出しを考えて。",
]
# Optional first sentence that gives context.
PERSONAS = [
    "大学生", "新入社員", "高校の教師", "看護師", "エンジニア", "小学生の親", "定年退職した男性", "留学生", "農家",
    "中学生", "営業職の会社員", "フリーランスのデザイナー", "研究者", "主婦", "市役所の職員", "飲食店の店長",
]
EVENTS = [
    "プレゼン", "期末試験", "就職面接", "結婚式のスピーチ", "引っ越し", "マラソン大会", "社内研修", "家族旅行",
    "英語の検定試験", "地域のお祭り", "子どもの運動会", "新商品の発表会",
]
CONTEXTS = [
    "私は{p}です。", "来週、{e}があります。", "最近、{d}に興味を持ちました。", "{p}として働いています。",
    "明日は{e}の準備をする予定です。", "友人に{d}の話をしたら驚かれました。",
]
CONSTRAINTS = [
    "200字以内で", "箇条書きで", "3つのポイントに分けて", "結論から先に", "表形式で", "具体的な数字を使って",
    "小学生にもわかるように", "専門用語を使わずに", "具体例を挙げながら", "ビジネスの観点から", "ユーモアを交えて",
    "丁寧な敬語で", "歴史的な背景を踏まえて",
]


# Templates and topics that never occur in the pool: half of the speed-test candidates use them, so
# that not every candidate is a duplicate (is_duplicate exits early on duplicates).
HELD_OUT_TEMPLATES = [
    "{t}に関する面白い事実を一つ挙げ、その背景を考察してください。",
    "もし{t}が存在しなかったら、世界はどう変わっていたと思う？",
    "{t}を題材にした川柳を{n}つ作り、それぞれの意図を説明して。",
    "{t}の研究者が直面している最大の難問は何だと考えられますか。",
    "{t}について、江戸時代の人に説明するつもりで語ってください。", "{t}に関する架空のニュース速報を書いてください。",
    "{t}を使ったなぞなぞを作って、答えも添えて。", "{t}と{u}を組み合わせた新しいサービスのアイデアを出して。",
]
HELD_OUT_DOMAINS = [
    "折り紙", "盆栽", "万葉集", "蒸気機関", "半導体", "ドローン", "昆虫食", "宇宙エレベーター", "古代ローマ",
    "縄文土器", "手話", "点字", "気象衛星", "深海生物", "養蜂", "伝統工芸",
]


def compose_instruction(rng: random.Random, templates: list[str] = TEMPLATES, domains: list[str] = DOMAINS) -> str:
    """One synthetic instruction: an optional context sentence, then a request about one or two topics."""
    topic = f"{rng.choice(domains)}の{rng.choice(ASPECTS)}" if rng.random() < 0.5 else rng.choice(domains)
    request = rng.choice(templates).format(
        t=topic, u=rng.choice(domains), n=rng.choice("2345"),
        c=rng.choice(CONSTRAINTS) + ("、" if rng.random() < 0.3 else "") if rng.random() < 0.5 else "")
    if rng.random() < 0.4:
        context = rng.choice(CONTEXTS).format(p=rng.choice(PERSONAS), e=rng.choice(EVENTS), d=rng.choice(DOMAINS))
        request = context + request
    return request


def perturb(text: str, rng: random.Random) -> str:
    """A near-duplicate: the same instruction with a particle, a spelling or the punctuation changed."""
    edits = [
        lambda s: s.replace("ください", "下さい"),
        lambda s: s.rstrip("。？") if s[-1] in "。？" else s + "。",
        lambda s: s.replace("について", "に関して", 1),
        lambda s: s.replace("を", "は", 1),
        lambda s: s.replace("、", "", 1) if "、" in s else "では、" + s,
        lambda s: s.replace("てください", "てもらえますか", 1),
    ]
    changed = text
    for edit in rng.sample(edits, k=rng.randint(1, 2)):
        changed = edit(changed)
    return changed


def synthetic_instructions(count: int, seed: int, duplicate_share: float = 0.05) -> list[str]:
    """``count`` instructions of 15-80 characters; about ``duplicate_share`` of them perturb an earlier one."""
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < count:
        duplicate = bool(texts) and rng.random() < duplicate_share
        text = perturb(rng.choice(texts), rng) if duplicate else compose_instruction(rng)
        if MIN_CHARS <= len(text) <= MAX_CHARS:
            texts.append(text)
    return texts


ANSWER_SENTENCES = [
    "まず基本的な考え方を整理します。", "重要なのは全体像を把握することです。",
    "具体例として次のような場面が考えられます。", "一方で注意すべき点もあります。",
    "結論として、目的に合わせて選ぶことが大切です。", "歴史的には長い議論の積み重ねがあります。",
    "初心者はまず小さな一歩から始めるとよいでしょう。", "データを確認しながら判断することが重要です。",
]
CODE_ANSWER = "次のコードで実現できます。\n```python\ndef solve(items):\n    return sorted(set(items))\n```\n以上です。"
BAD_ITEMS: list[Any] = [
    {"instruction": "この画像に写っている動物の名前を答えてください。", "input": "", "output": "犬です。"},
    {"instruction": "Please explain the theory of relativity in simple words.", "input": "", "output": "It says..."},
    {"instruction": "短い", "input": "", "output": "はい。"},
    {"instruction": "日本の四季について説明してください。", "input": "", "output": None},
    "not a dict",
]


def synthetic_items(count: int, seed: int) -> list[Any]:
    """Generated-looking items (instruction/input/output), with ~2% that each filter must drop."""
    rng = random.Random(seed)
    instructions = synthetic_instructions(count, seed)
    items: list[Any] = []
    for instruction in instructions:
        if rng.random() < 0.02:
            items.append(rng.choice(BAD_ITEMS))
            continue
        output = CODE_ANSWER if rng.random() < 0.05 else "".join(rng.sample(ANSWER_SENTENCES, k=rng.randint(2, 5)))
        text_input = "" if rng.random() < 0.8 else "".join(rng.sample(ANSWER_SENTENCES, k=2))
        items.append({"instruction": instruction, "input": text_input, "output": output})
    return items


def speed_candidates(count: int, seed: int) -> list[str]:
    """Candidates for (a): alternately from the pool's distribution and from held-out templates and topics."""
    rng = random.Random(seed)
    candidates: list[str] = []
    while len(candidates) < count:
        if len(candidates) % 2:
            text = compose_instruction(rng, HELD_OUT_TEMPLATES, HELD_OUT_DOMAINS)
        else:
            text = compose_instruction(rng)
        if MIN_CHARS <= len(text) <= MAX_CHARS:
            candidates.append(text)
    return candidates


class MemoTokenizer(RougeScoreTokenizer):
    """Our char tokenizer for rouge_score, remembering each text's tokens (Alpaca tokenizes the pool once)."""

    def __init__(self) -> None:
        super().__init__("char")
        self._memo: dict[str, list[str]] = {}

    def tokenize(self, text: str) -> list[str]:
        tokens = self._memo.get(text)
        if tokens is None:
            tokens = self._memo[text] = char_tokens(text)
        return tokens


# -- (b) brute force, split over worker processes ------------------------------------------------

_SAMPLE: list[str] = []
_SCORER: rouge_scorer.RougeScorer | None = None


def _init_worker(sample: list[str]) -> None:
    global _SAMPLE, _SCORER
    _SAMPLE = sample
    _SCORER = rouge_scorer.RougeScorer(["rougeL"], tokenizer=MemoTokenizer())


def _any_above(job: tuple[int, list[int]]) -> bool:
    """Whether sample item ``job[0]`` scores > THRESHOLD against any of the sample items ``job[1]``."""
    candidate, accepted = job
    assert _SCORER is not None
    target = _SAMPLE[candidate]
    return any(_SCORER.score(target, _SAMPLE[j])["rougeL"].fmeasure > THRESHOLD for j in accepted)


def brute_force_decisions(sample: list[str], workers: int) -> list[bool]:
    """Keep (True) / drop decisions of Alpaca's sequential filter with rouge_score, over ``workers`` processes."""
    kept: list[int] = []
    decisions = []
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(sample,)) as pool:
        for i in range(len(sample)):
            share = (len(kept) + workers - 1) // workers or 1
            jobs = [(i, kept[w * share:(w + 1) * share]) for w in range(workers)]
            duplicate = any(pool.map(_any_above, jobs))
            decisions.append(not duplicate)
            if not duplicate:
                kept.append(i)
    return decisions


def index_decisions(sample: list[str]) -> list[bool]:
    """Keep / drop decisions of the same sequential filter with :class:`NearDuplicateIndex`."""
    index = NearDuplicateIndex("char", THRESHOLD)
    return [index.add_unless_duplicate(text) is None for text in sample]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=50_000)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--brute-seconds", type=float, default=60.0)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    started = time.perf_counter()

    pool_texts = synthetic_instructions(args.pool, SEED)
    lengths = sorted(len(t) for t in pool_texts)
    print(f"pool: {len(pool_texts)} instructions, {len(set(pool_texts))} distinct, "
          f"length median {lengths[len(lengths) // 2]} (min {lengths[0]}, max {lengths[-1]})", flush=True)
    t0 = time.perf_counter()
    index = NearDuplicateIndex("char", THRESHOLD)
    index.extend(pool_texts)
    build_seconds = time.perf_counter() - t0
    print(f"index built in {build_seconds:.1f} s", flush=True)

    # (a) speed against the full pool.
    candidates = speed_candidates(args.candidates, SEED + 1)
    t0 = time.perf_counter()
    fast_max = [index.max_similarity(text) for text in candidates]
    max_seconds = (time.perf_counter() - t0) / len(candidates)
    t0 = time.perf_counter()
    fast_dup = [index.is_duplicate(text) for text in candidates]
    dup_seconds = (time.perf_counter() - t0) / len(candidates)
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=RougeScoreTokenizer("char"))
    brute_done, t0 = 0, time.perf_counter()
    while brute_done < len(candidates) and (brute_done == 0 or time.perf_counter() - t0 < args.brute_seconds):
        text = candidates[brute_done]
        best = max(scorer.score(text, item)["rougeL"].fmeasure for item in pool_texts)
        assert best == fast_max[brute_done][0], (text, best, fast_max[brute_done])
        assert (best > THRESHOLD) == fast_dup[brute_done]
        brute_done += 1
    brute_seconds = (time.perf_counter() - t0) / brute_done
    speedup_max, speedup_dup = brute_seconds / max_seconds, brute_seconds / dup_seconds
    print(f"(a) brute force {brute_seconds:.2f} s/candidate ({brute_done} candidates); index max_similarity "
          f"{max_seconds * 1e3:.2f} ms, is_duplicate {dup_seconds * 1e3:.2f} ms -> {speedup_max:.0f}x / "
          f"{speedup_dup:.0f}x; {sum(fast_dup)}/{len(candidates)} candidates are duplicates", flush=True)

    # (b) identical sequential decisions on a sample.
    sample = synthetic_instructions(args.sample, SEED + 2)
    t0 = time.perf_counter()
    fast = index_decisions(sample)
    fast_sample_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    brute = brute_force_decisions(sample, args.workers)
    brute_sample_seconds = time.perf_counter() - t0
    disagreements = sum(a != b for a, b in zip(fast, brute, strict=True))
    print(f"(b) {len(sample)} items: kept {sum(fast)} (index, {fast_sample_seconds:.1f} s) vs {sum(brute)} "
          f"(rouge_score, {brute_sample_seconds:.0f} s on {args.workers} workers); disagreements {disagreements}",
          flush=True)

    # (c) filtering cost of a full generation run.
    items = synthetic_items(GENERATION_ITEMS, SEED + 3)
    config = FilterConfig(rouge_threshold=THRESHOLD, tokenizer="char")
    t0 = time.perf_counter()
    result = filter_items(items, config)
    filter_seconds = time.perf_counter() - t0
    big_pool = NearDuplicateIndex("char", THRESHOLD)
    big_pool.extend(pool_texts)
    big_pool.extend(synthetic_instructions(GENERATION_ITEMS - len(pool_texts), SEED + 4))
    tail = synthetic_items(2_000, SEED + 5)
    t0 = time.perf_counter()
    filter_items(tail, config, pool=big_pool)
    worst_seconds = (time.perf_counter() - t0) / len(tail) * len(items)
    generation_seconds = len(items) * GENERATION_SECONDS_PER_ITEM
    share, worst_share = filter_seconds / generation_seconds, worst_seconds / generation_seconds
    print(f"(c) filter_items over {len(items)} items: {filter_seconds:.1f} s, {len(result.accepted)} kept, dropped "
          f"{result.counts}; worst case (pool of {GENERATION_ITEMS}) {worst_seconds:.0f} s; generation "
          f"{generation_seconds:.0f} s", flush=True)

    assert disagreements == 0, "the index and rouge_score disagree"
    assert speedup_dup >= 100 and speedup_max >= 100, "index less than 100x faster than brute force"
    assert max(share, worst_share) < 0.05, "filtering takes more than 5% of the generation time"
    print(f"pool={len(pool_texts)} brute_candidates={brute_done} brute_s_per_candidate={brute_seconds:.3f} "
          f"index_max_similarity_ms={max_seconds * 1e3:.2f} index_is_duplicate_ms={dup_seconds * 1e3:.2f} "
          f"speedup={min(speedup_max, speedup_dup):.0f} speedup_is_duplicate={speedup_dup:.0f} "
          f"sample={len(sample)} identical_decisions={str(disagreements == 0).lower()} "
          f"disagreements={disagreements} filter_items={len(items)} filter_s={filter_seconds:.1f} "
          f"filter_s_worst_case={worst_seconds:.0f} generation_s={generation_seconds:.0f} filter_share={share:.5f} "
          f"filter_share_worst_case={worst_share:.5f} "
          f"total_s={time.perf_counter() - started:.0f}")


if __name__ == "__main__":
    main()
