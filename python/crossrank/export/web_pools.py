"""Built-in web-passage pools: a second domain for the quality gate, beside the Python documentation.

The documentation pools (:func:`crossrank.export.fidelity.builtin_pools`) are one narrow domain; users
rerank web passages, product pages, science abstracts. These pools are short, MS MARCO-style
answers to everyday questions (health, cooking, travel, money, science, history, ...), written for
crossrank and shipped with it, so the gate measures a second domain offline on any machine. Each
pool holds its question's own passages and passages of the other topics, some on nearby subjects.
"""

from __future__ import annotations

import random

from crossrank.export.fidelity import Pool

# (topic, question, passages answering it or close to it)
WEB_TOPICS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sleep", "how many hours of sleep does an adult need", (
        "Most adults need seven to nine hours of sleep a night. Sleeping less than seven hours on a regular "
        "basis is linked to weight gain, high blood pressure and a weaker immune system.",
        "Teenagers need eight to ten hours of sleep, school-age children nine to twelve, and newborns up to "
        "seventeen hours spread over the day and night.",
        "Sleep quality matters as much as length: waking often during the night or snoring loudly can leave "
        "you tired even after eight hours in bed.",
        "Keeping the same bedtime every day, avoiding caffeine after noon and dimming screens an hour before "
        "bed are the simplest ways to fall asleep faster.",
    )),
    ("boil-egg", "how long to boil an egg for a soft yolk", (
        "For a soft-boiled egg with a runny yolk, lower the egg into boiling water and cook it for six to seven "
        "minutes, then cool it in cold water for one minute.",
        "Hard-boiled eggs take ten to twelve minutes. Start them in cold water, bring it to a boil, then turn "
        "off the heat and leave the lid on.",
        "Very fresh eggs are harder to peel. Eggs that are a week old peel more easily because the air cell "
        "inside the shell grows as they age.",
        "Poaching an egg takes about three minutes in water that barely simmers; a splash of vinegar helps the "
        "white set around the yolk.",
    )),
    ("passport", "how long does it take to renew a passport", (
        "Routine passport renewal takes six to eight weeks from the day the application is received; expedited "
        "service costs an extra fee and takes two to three weeks.",
        "You can renew by mail if your most recent passport was issued when you were 16 or older, within the "
        "last 15 years, and is undamaged.",
        "A passport photo must be in colour, taken within the last six months, on a plain white background, "
        "without glasses.",
        "Many countries require your passport to be valid for at least six months beyond the date you plan to "
        "leave them.",
    )),
    ("interest", "what is compound interest", (
        "Compound interest is interest calculated on the initial amount and on the interest already added to "
        "it, so savings grow faster each year than with simple interest.",
        "With simple interest you earn the same amount every year, a fixed percentage of the original deposit "
        "only.",
        "The rule of 72 estimates how long money takes to double: divide 72 by the yearly interest rate. At 6 "
        "percent, money doubles in about twelve years.",
        "A credit card balance also compounds, which is why paying only the minimum each month makes a debt "
        "last for years.",
    )),
    ("sky-blue", "why is the sky blue", (
        "Sunlight is scattered by the molecules of the air, and short blue wavelengths are scattered much more "
        "than red ones. This Rayleigh scattering makes the sky look blue.",
        "At sunset light crosses far more air before reaching you, so most of the blue is scattered away and "
        "the sky turns orange and red.",
        "Clouds are white because their water droplets are large enough to scatter all colours of light about "
        "equally.",
        "On the Moon the sky is black even in daytime, because there is no atmosphere to scatter sunlight.",
    )),
    ("pyramids", "who built the pyramids of giza", (
        "The pyramids of Giza were built about 4,500 years ago for the pharaohs Khufu, Khafre and Menkaure of "
        "Egypt's Fourth Dynasty.",
        "Workers' villages found near the pyramids show they were built by paid Egyptian labourers, not slaves, "
        "who were fed bread, beer and meat.",
        "The Great Pyramid was the tallest building in the world for almost 4,000 years, until Lincoln "
        "Cathedral was finished in the fourteenth century.",
        "The limestone blocks were probably moved on wooden sledges over wet sand, which halves the force "
        "needed to pull them.",
    )),
    ("dog-age", "how to calculate a dog's age in human years", (
        "The old rule of seven human years per dog year is wrong: a dog's first year equals about fifteen "
        "human years, and its second about nine more.",
        "After the second year each dog year is roughly four to five human years, and large breeds age faster "
        "than small ones.",
        "Small dogs often live fourteen to sixteen years, while giant breeds such as Great Danes usually live "
        "seven to ten.",
        "A puppy should visit the vet for vaccines at six to eight weeks, then every three to four weeks until "
        "sixteen weeks old.",
    )),
    ("solar", "how do solar panels produce electricity", (
        "Solar panels are made of silicon cells. Light knocks electrons loose in the silicon, and the electric "
        "field between its layers drives them into a current.",
        "The panels produce direct current; an inverter turns it into the alternating current used by homes "
        "and the grid.",
        "A typical home panel today converts about twenty percent of the sunlight that falls on it into "
        "electricity.",
        "Solar water heaters are different: they use the sun's heat to warm water directly and make no "
        "electricity at all.",
    )),
    ("headache", "what causes tension headaches", (
        "Tension headaches are the most common kind. Stress, poor posture, tired eyes and tight neck and "
        "shoulder muscles are the usual triggers.",
        "A tension headache feels like a tight band around the head, while a migraine throbs, often on one "
        "side, with nausea and sensitivity to light.",
        "Drinking enough water, regular meals and short breaks from the screen prevent many headaches.",
        "See a doctor for a sudden, severe headache, or one with fever, a stiff neck, confusion or weakness.",
    )),
    ("bread", "why did my bread not rise", (
        "Bread fails to rise when the yeast is dead or the dough is too cold. Water above 60 C kills yeast; "
        "aim for lukewarm water around 40 C.",
        "Too much salt slows yeast down, and so does adding the salt directly on top of the yeast.",
        "Sourdough rises more slowly than bread made with commercial yeast and may need eight hours or more "
        "at room temperature.",
        "Whole wheat flour makes a denser loaf than white flour because the bran cuts the gluten strands.",
    )),
    ("marathon", "how long is a marathon", (
        "A marathon is 42.195 kilometres, or 26.2 miles. The distance was fixed at the 1908 London Olympics "
        "so the race could finish in front of the royal box.",
        "A half marathon is 21.1 kilometres. Most beginners train for twelve to sixteen weeks before running "
        "their first full marathon.",
        "The men's marathon world record is just over two hours; most amateur runners finish in four to five "
        "hours.",
        "An ultramarathon is any race longer than a marathon, commonly 50 or 100 kilometres.",
    )),
    ("volcano", "why do volcanoes erupt", (
        "Volcanoes erupt when molten rock, called magma, rises because it is lighter than the rock around it, "
        "and gas dissolved in it expands as the pressure drops.",
        "Sticky, gas-rich magma traps its gas until it explodes, as at Mount St. Helens; runny magma lets gas "
        "escape and flows out as lava, as in Hawaii.",
        "Most volcanoes lie where tectonic plates meet, around the Pacific Ocean in the Ring of Fire.",
        "Earthquakes happen when rock breaks along a fault and the two sides slip past each other.",
    )),
)


def web_pools(n_pools: int = 10, pool_size: int = 30, *, seed: int = 0) -> list[Pool]:
    """Offline pools of web-style passages (WEB_TOPICS), deterministic for a SEED.

    Args:
        n_pools: how many pools (one per question, 1..len(WEB_TOPICS)).
        pool_size: passages per pool: the question's own, then the other topics' (at most all passages).
        seed: the random seed.

    Returns:
        N_POOLS pools; query ids ``web:<topic>``, document ids ``<topic>/<i>``.

    Raises:
        ValueError: N_POOLS or POOL_SIZE out of range.
    """
    total = sum(len(p) for _, _, p in WEB_TOPICS)
    if not 1 <= n_pools <= len(WEB_TOPICS):
        raise ValueError(f"n_pools must be 1..{len(WEB_TOPICS)}, got {n_pools}")
    if not 2 <= pool_size <= total:
        raise ValueError(f"pool_size must be 2..{total} (the passages there are), got {pool_size}")
    rng = random.Random(seed)
    pools = []
    for topic, question, own in WEB_TOPICS[:n_pools]:
        docs = [(f"{topic}/{i}", d) for i, d in enumerate(own)][:pool_size]
        others = [(f"{t}/{i}", d) for t, _, ps in WEB_TOPICS if t != topic for i, d in enumerate(ps)]
        docs += rng.sample(others, pool_size - len(docs))
        rng.shuffle(docs)
        pools.append(Pool(question, [d for _, d in docs], [i for i, _ in docs], f"web:{topic}"))
    return pools
