"""A generated world for R1-Router: entities whose facts are spread over three knowledge bases,
and multi-hop questions that need one to three lookups across them, with reference trajectories.

Facts: people (birth city, employer) and companies (headquarters) are text passages; company
logos are rendered Pillow images whose captions give their colour and shape (image-text pairs);
cities (population, founding year) are rows of one table per country. Every name is invented,
so a model can only answer by retrieving. Question kinds, by route:

=====================  =====================================================================
text                   In which city was {person} born?
table                  What is the population of {city}?
image_text             What color is the logo of {company}?
text → table           What is the population of the city where {person} was born?
text → image_text      What shape is the logo of the company {person} works for?
image_text → text →    In which year was the city founded where the company with the {color}
table                  {shape} logo has its headquarters? (also asked with the logo as the
                       question's image: "... the company with this logo ...")
=====================  =====================================================================

Each step's `retrieved` passages come from searching the built index with the step's
sub-question, and generation fails loudly if a step's answer is not in the top hit.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepgrpo.data.io import write_rows
from stepgrpo.router.format import PASSAGES_SHOWN
from stepgrpo.router.kb import KnowledgeBases, is_index_folder
from stepgrpo.router.rewards import answer_recall

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 160, 60), "yellow": (235, 200, 20),
    "purple": (130, 40, 170), "orange": (240, 130, 20), "black": (10, 10, 10), "pink": (240, 120, 180),
}
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
PROFESSIONS = ("engineer", "chemist", "pilot", "designer", "accountant", "teacher", "surveyor", "baker")
_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr", "st"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODAS = ["", "", "n", "r", "l", "s", "x", "th"]


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 0
    questions: int = 200
    image_size: int = 64
    """Side of the rendered logo images, in pixels."""

    @property
    def sizes(self) -> dict[str, int]:
        """Entity counts, grown with the number of questions so that questions stay distinct."""
        n = self.questions
        cities = max(8, n // 8)
        return {"people": max(10, n // 3), "companies": min(len(COLORS) * len(SHAPES), max(6, n // 8)),
                "cities": cities, "countries": max(2, cities // 6)}


@dataclass(frozen=True)
class _Step:
    sub_question: str
    kb: str
    sub_answer: str


def _names(rng: random.Random, count: int, used: set[str], syllables: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
        word += rng.choice(_CODAS)
        if word not in used:
            used.add(word)
            names.append(word.capitalize())
    return names


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _render_logo(color: str, shape: str, size: int, path: Path) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    lo, hi, mid = size // 8, size - size // 8, size // 2
    fill = COLORS[color]
    if shape == "circle":
        draw.ellipse((lo, lo, hi, hi), fill=fill)
    elif shape == "square":
        draw.rectangle((lo, lo, hi, hi), fill=fill)
    elif shape == "triangle":
        draw.polygon([(mid, lo), (hi, hi), (lo, hi)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(mid, lo), (hi, mid), (mid, hi), (lo, mid)], fill=fill)
    else:
        bar = size // 6
        draw.rectangle((mid - bar, lo, mid + bar, hi), fill=fill)
        draw.rectangle((lo, mid - bar, hi, mid + bar), fill=fill)
    image.save(path, format="PNG")


def _build_world(config: WorldConfig, source: Path) -> list[tuple[str, str, list[_Step], str | None]]:
    """Write the knowledge-base sources; return every possible question as
    (question, answer, reference steps, image path relative to the world folder)."""
    rng = random.Random(config.seed)
    sizes = config.sizes
    used: set[str] = set()
    countries = _names(rng, sizes["countries"], used, 2)
    cities = _names(rng, sizes["cities"], used, 2)
    companies = _names(rng, sizes["companies"], used, 2)
    firsts, lasts = _names(rng, sizes["people"], used, 2), _names(rng, sizes["people"], used, 2)
    people = [f"{first} {last}" for first, last in zip(firsts, lasts, strict=True)]

    city = {c: {"country": countries[i % len(countries)], "population": rng.randrange(2_000, 900_000),
                "founded": rng.randrange(1100, 1950)} for i, c in enumerate(cities)}
    logos = rng.sample([(color, shape) for color in COLORS for shape in SHAPES], len(companies))
    company = {c: {"hq": rng.choice(cities), "color": logos[i][0], "shape": logos[i][1]}
               for i, c in enumerate(companies)}
    person = {p: {"born": rng.choice(cities), "employer": rng.choice(companies),
                  "profession": rng.choice(PROFESSIONS)} for p in people}

    (source / "images").mkdir(parents=True)
    text_rows = [{"id": f"person-{i:03d}", "title": p, "text": f"{p} was born in {f['born']}. "
                  f"{p} works as {_article(f['profession'])} at {f['employer']}."}
                 for i, (p, f) in enumerate(person.items())]
    text_rows += [{"id": f"company-{i:03d}", "title": c,
                   "text": f"{c} is a company headquartered in {f['hq']}."}
                  for i, (c, f) in enumerate(company.items())]
    image_rows, logo_path = [], {}
    for i, (c, f) in enumerate(company.items()):
        logo_path[c] = f"images/logo-{i:03d}.png"
        _render_logo(f["color"], f["shape"], config.image_size, source / logo_path[c])
        image_rows.append({"id": f"logo-{i:03d}", "image": logo_path[c],
                           "caption": f"The logo of {c} is a {f['color']} {f['shape']}."})
    table_rows = [{"id": f"cities-{country.lower()}", "title": f"Cities of {country}",
                   "header": ["City", "Population", "Founded"],
                   "rows": [[c, f["population"], f["founded"]] for c, f in city.items()
                            if f["country"] == country]} for country in countries]
    table_rows = [table for table in table_rows if table["rows"]]
    write_rows(source / "text.jsonl", text_rows)
    write_rows(source / "image_text.jsonl", image_rows)
    write_rows(source / "tables.jsonl", table_rows)

    def born(p: str) -> _Step:
        return _Step(f"In which city was {p} born?", "text", person[p]["born"])

    def population(c: str) -> _Step:
        return _Step(f"What is the population of {c}?", "table", str(city[c]["population"]))

    kinds = ("t", "tab", "img", "t-tab", "t-img", "img-t-tab", "img-t-tab+image")
    questions: dict[str, list[tuple[str, str, list[_Step], str | None]]] = {k: [] for k in kinds}
    for p in people:
        questions["t"].append((born(p).sub_question, person[p]["born"], [born(p)], None))
        hop = population(person[p]["born"])
        questions["t-tab"].append((f"What is the population of the city where {p} was born?", hop.sub_answer,
                                   [born(p), hop], None))
        employer = person[p]["employer"]
        steps = [_Step(f"Which company does {p} work for?", "text", employer),
                 _Step(f"What shape is the logo of {employer}?", "image_text", company[employer]["shape"])]
        questions["t-img"].append((f"What shape is the logo of the company {p} works for?",
                                   steps[1].sub_answer, steps, None))
    for c in cities:
        questions["tab"].append((population(c).sub_question, population(c).sub_answer, [population(c)], None))
    for c, f in company.items():
        questions["img"].append((f"What color is the logo of {c}?", f["color"],
                                 [_Step(f"What color is the logo of {c}?", "image_text", f["color"])], None))
        year = str(city[f["hq"]]["founded"])
        steps = [_Step(f"Which company has a {f['color']} {f['shape']} logo?", "image_text", c),
                 _Step(f"In which city is {c} headquartered?", "text", f["hq"]),
                 _Step(f"In which year was {f['hq']} founded?", "table", year)]
        questions["img-t-tab"].append((
            f"In which year was the city founded where the company with the {f['color']} {f['shape']} logo "
            "has its headquarters?", year, steps, None))
        questions["img-t-tab+image"].append((
            "In which year was the city founded where the company with this logo has its headquarters?",
            year, steps, f"kb_source/{logo_path[c]}"))
    # Interleave the kinds so that any prefix of the question list is balanced across hop counts.
    for pool in questions.values():
        rng.shuffle(pool)
    ordered = []
    while any(questions.values()):
        for pool in questions.values():
            if pool:
                ordered.append(pool.pop())
    return ordered


WORLD_OUTPUTS = ("kb_source", "kb", "trajectories.jsonl")
SOURCE_FILES = {"text.jsonl", "image_text.jsonl", "tables.jsonl", "images"}


def is_world_output(path: Path) -> bool:
    """Whether `path` (one of `WORLD_OUTPUTS`) is what `generate_world` writes there, so that
    `force` may replace it: the sources and their logos, an index, the trajectories file."""
    if path.is_symlink():
        return False
    if path.name == "trajectories.jsonl":
        return path.is_file()
    if path.name == "kb":
        return path.is_dir() and is_index_folder(path)
    if path.name == "kb_source" and path.is_dir():
        names = {entry.name for entry in path.iterdir()}
        images = path / "images"
        return names <= SOURCE_FILES and (not images.exists() or (images.is_dir() and all(
            entry.is_file() and entry.name.startswith("logo-") and entry.suffix == ".png"
            for entry in images.iterdir())))
    return False


def _remove_old_world(out: Path, force: bool) -> None:
    """Remove an earlier world's outputs from `out` when `force`, and nothing else: other files in
    `out` stay, and an output that is not the world's is refused (never deleted)."""
    existing = [out / name for name in WORLD_OUTPUTS if (out / name).exists() or (out / name).is_symlink()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]}: already exists (an earlier world); pass --force to replace "
                              "the world's outputs")
    foreign = next((path for path in existing if not is_world_output(path)), None)
    if foreign is not None:
        raise FileExistsError(f"{foreign}: is not what the world generator writes; refusing to replace it "
                              "(even with --force)")
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def generate_world(out: str | Path, config: WorldConfig | None = None, force: bool = False) -> dict[str, Any]:
    """Write `out/kb_source/` (KB sources and images), `out/kb/` (BM25 index) and
    `out/trajectories.jsonl`; return a summary (counts by hop number and knowledge base).
    An earlier world's three outputs are an error, or replaced with `force`; nothing else in
    `out` is touched."""
    out, config = Path(out), config or WorldConfig()
    _remove_old_world(out, force)
    candidates = _build_world(config, out / "kb_source")
    if config.questions > len(candidates):
        raise ValueError(f"this world has {len(candidates)} distinct questions; {config.questions} asked")
    kbs = KnowledgeBases.build(out / "kb_source", out / "kb")
    trajectories = []
    for number, (question, answer, steps, image) in enumerate(candidates[: config.questions]):
        qid = f"world-{config.seed}-{number:05d}"
        record_steps = []
        for index, step in enumerate(steps, start=1):
            hits = kbs.search(step.sub_question, step.kb, k=PASSAGES_SHOWN)
            if not hits or answer_recall(hits[0].text, step.sub_answer) < 1.0:
                raise RuntimeError(f"{qid} step {index}: {step.sub_answer!r} not in the top hit for "
                                   f"{step.sub_question!r} from {step.kb}")
            record_steps.append({"sub_question": step.sub_question, "kb": step.kb,
                                 "retrieved": [hit.text for hit in hits], "sub_answer": step.sub_answer})
        trajectories.append({"id": qid, "question": question, "image": image, "answer": [answer],
                             "steps": record_steps})
    write_rows(out / "trajectories.jsonl", trajectories)
    hops: dict[str, int] = {}
    routes: dict[str, int] = {}
    for trajectory in trajectories:
        key = str(len(trajectory["steps"]))
        hops[key] = hops.get(key, 0) + 1
        for step in trajectory["steps"]:
            routes[step["kb"]] = routes.get(step["kb"], 0) + 1
    return {"questions": len(trajectories), "hops": hops, "routes": routes,
            "documents": {kind: len(kb) for kind, kb in kbs.items()}}
