"""R1-Router commands: `kb build`, `kb query`, `router-data`, `router-world`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from stepgrpo.cli.app import app, console, error_console
from stepgrpo.router.kb import KB_TYPES, RETRIEVERS

kb_app = typer.Typer(help="Knowledge bases for R1-Router: build an index, query it.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


# The choices come from the registries, so a new knowledge-base kind or retriever appears here by itself.
KBKind = StrEnum("KBKind", {kind: kind for kind in KB_TYPES})  # type: ignore[misc]
RetrieverKind = StrEnum("RetrieverKind", {name: name for name in RETRIEVERS})  # type: ignore[misc]
DEFAULT_RETRIEVER = RetrieverKind("bm25")
SOURCE_NAMES = ", ".join(kb.source_names[0] for kb in KB_TYPES.values())


class FinalWording(StrEnum):
    train = "train"
    eval = "eval"


def _fail(message: str) -> typer.Exit:
    error_console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(1)


@kb_app.command("build")
def kb_build(
    source: Annotated[Path, typer.Argument(help=f"{SOURCE_NAMES} or a folder")],
    out: Annotated[Path, typer.Argument(help="index folder to write")],
    kind: Annotated[KBKind | None, typer.Option(help="kind of a SOURCE file named otherwise")] = None,
    retriever: Annotated[RetrieverKind, typer.Option(help="retriever (docs/router.md)")] = DEFAULT_RETRIEVER,
    embedding_model: Annotated[Path | None, typer.Option(help="local sentence-transformers folder")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", "--force",
                                            help="replace OUT if it is an index (never another folder)")] = False,
) -> None:
    """Validate knowledge-base sources and write a persistent, checksummed index."""
    from stepgrpo.outputs import OutputError, check_output
    from stepgrpo.router.embed import EmbeddingUnavailable
    from stepgrpo.router.kb import KBError, KnowledgeBases, is_index_folder

    try:
        if not source.exists():
            raise KBError(f"{source}: no such file or folder")
        check_output(out, inputs=[source], overwrite=overwrite, replaceable=is_index_folder)
        kbs = KnowledgeBases.build(source, out, kind=kind.value if kind else None, retriever=retriever.value,
                                   embedding_model=embedding_model, force=overwrite)
    except (KBError, EmbeddingUnavailable, OutputError) as error:
        raise _fail(str(error)) from None
    counts = ", ".join(f"{k}: {len(kb)} documents" for k, kb in kbs.items())
    console.print(f"built {retriever.value} index {out} ({counts})", highlight=False)


@kb_app.command("query")
def kb_query(
    index: Annotated[Path, typer.Argument(help="index folder written by `stepgrpo kb build`")],
    text: Annotated[str, typer.Argument(help="the query")],
    kb: Annotated[KBKind | None, typer.Option(help="knowledge base to search (default: every one)")] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="number of hits per knowledge base")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per hit")] = False,
    verify: Annotated[bool, typer.Option(help="check every index file's SHA-256 before searching")] = True,
) -> None:
    """Search an index and print the top-k hits."""
    from stepgrpo.router.embed import EmbeddingUnavailable
    from stepgrpo.router.kb import KBError, KnowledgeBases

    try:
        kbs = KnowledgeBases.load(index, verify=verify)
        kinds = [kb.value] if kb else list(kbs)
        hits = [hit for kind in kinds for hit in kbs.search(text, kind, k)]
    except (KBError, EmbeddingUnavailable) as error:
        raise _fail(str(error)) from None
    except KeyError as error:
        raise _fail(str(error.args[0])) from None
    if as_json:
        for hit in hits:
            print(json.dumps({"id": hit.id, "kb": hit.kb, "score": hit.score, "text": hit.text,
                              "image": str(hit.image) if hit.image else None}, ensure_ascii=False))
        return
    table = Table("kb", "id", "score", "text")
    for hit in hits:
        image = f"\n[{hit.image}]" if hit.image else ""
        table.add_row(hit.kb, escape(hit.id), f"{hit.score:.3f}", escape(hit.text + image))
    console.print(table if hits else "no hits")


@app.command("router-data")
def router_data(
    trajectories: Annotated[Path, typer.Argument(help="reference trajectories (JSONL, JSON, parquet)")],
    out: Annotated[Path, typer.Argument(help="step rows to write (.jsonl, .json, .parquet or a folder)")],
    final_wording: Annotated[FinalWording, typer.Option(help="final request worded as in train or eval")] = (
        FinalWording.train),
    overwrite: Annotated[bool, typer.Option(help="replace an existing OUT")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(help="write the valid trajectories, name and count the others "
                                                     "(exit status 1)")] = False,
) -> None:
    """Turn R1-Router reference trajectories into per-step R1-Router Step-GRPO training rows.

    Every trajectory and its image (opened and verified) is checked before anything is written."""
    from stepgrpo.data.io import DataFileError, check_rows_output, write_rows
    from stepgrpo.outputs import OutputError
    from stepgrpo.router.records import trajectories_to_rows

    try:
        if not trajectories.exists():
            raise DataFileError(f"{trajectories}: no such file or folder")
        check_rows_output(out, inputs=[trajectories], overwrite=overwrite)
        rows, problems = trajectories_to_rows(trajectories, out, final_wording.value)
    except (DataFileError, OutputError) as error:
        raise _fail(str(error)) from None
    rows, image_problems = _rows_with_readable_images(rows, out)
    problems += image_problems
    if problems and not skip_bad_rows:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise _fail(f"{len(problems)} problem(s) in {trajectories}, nothing written (--skip-bad-rows writes the "
                    f"rest):\n  {shown}{more}")
    for problem in problems:
        error_console.print(f"skipped {problem}", markup=False, highlight=False)
    if not rows:
        raise _fail(f"{trajectories}: no usable trajectory, nothing written")
    write_rows(out, rows)
    by_role: dict[str, int] = {}
    for row in rows:
        by_role[row["role"]] = by_role.get(row["role"], 0) + 1
    summary = ", ".join(f"{role}: {n}" for role, n in by_role.items())
    console.print(f"wrote {len(rows)} step rows to {out} ({summary})", highlight=False)
    if problems:
        console.print(f"skipped {len(problems)} problem(s) in {trajectories}", highlight=False)
        raise typer.Exit(1)


def _rows_with_readable_images(rows: list[dict], out: Path) -> tuple[list[dict], list[str]]:
    """Open and verify each trajectory's image (rows hold it relative to OUT's folder); drop the
    rows of trajectories whose image is unreadable, with one problem line per trajectory."""
    from rich.progress import track

    from stepgrpo.data.validate import image_problem

    by_trajectory: dict[str, list[str]] = {}
    for row in rows:
        by_trajectory.setdefault(row["trajectory_id"], row["images"])
    bad: dict[str, str] = {}
    for trajectory_id, images in track(list(by_trajectory.items()), description="checking images",
                                       console=error_console, transient=True):
        for image in images:
            problem = image_problem(str(out.parent / image))
            if problem:
                bad[trajectory_id] = f"trajectory {trajectory_id}: field 'image': {problem}"
    return [row for row in rows if row["trajectory_id"] not in bad], list(bad.values())


@app.command("router-world")
def router_world(
    out: Annotated[Path, typer.Argument(help="folder for the world's KB sources, index and trajectories")],
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same files")] = 0,
    n: Annotated[int, typer.Option("--n", min=1, help="number of questions")] = 200,
    overwrite: Annotated[bool, typer.Option("--overwrite", "--force",
                                            help="replace OUT if it holds a world (never another folder)")] = False,
) -> None:
    """Generate the R1-Router multi-hop world: knowledge bases, index and reference trajectories."""
    from stepgrpo.outputs import check_output, check_writable_place
    from stepgrpo.router.world import WorldConfig, generate_world

    try:
        if out.exists() and not out.is_dir():
            raise ValueError(f"{out}: is a file; router-world writes a folder")
        if out.is_dir() and not any(out.iterdir()):
            check_writable_place(out / "trajectories.jsonl")
        else:
            check_output(out, overwrite=overwrite, replaceable=_is_world_folder)
        summary = generate_world(out, WorldConfig(seed=seed, questions=n), force=overwrite)
    except (FileExistsError, ValueError) as error:
        raise _fail(str(error)) from None
    console.print(f"wrote {summary['questions']} questions to {out / 'trajectories.jsonl'} "
               f"(lookups per question: {summary['hops']}; lookups per KB: {summary['routes']}); "
               f"index in {out / 'kb'}", highlight=False)


def _is_world_folder(folder: Path) -> bool:
    """A folder `router-world` wrote: its trajectories and index, and nothing foreign."""
    names = {entry.name for entry in folder.iterdir()}
    return "kb_source" in names and names <= {"trajectories.jsonl", "kb", "kb_source"}


@app.command("router-answer")
def router_answer(
    questions: Annotated[Path, typer.Argument(help="questions (JSONL/JSON/parquet): id, question, image?, answer?, "
                                                    "steps? (router-world's trajectories.jsonl works)")],
    out: Annotated[Path, typer.Argument(help="JSONL to write: one record with the trajectory per question")],
    model: Annotated[Path, typer.Option(help="model folder (a `stepgrpo train`/`sft` output_dir/final)")],
    index: Annotated[Path, typer.Option(help="index folder written by `stepgrpo kb build` or router-world")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="passages retrieved per step (official: 5 shown)")] = 5,
    max_retrievals: Annotated[int, typer.Option(min=0, help="step cap, then a forced final answer")] = 3,
    retries: Annotated[int, typer.Option(min=0, help="resamples of a malformed router step (official: 5)")] = 5,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="tokens per step (official: 2048)")] = 256,
    temperature: Annotated[float, typer.Option(min=0, help="sampling temperature; 0 is greedy (official: 1.0)")] = 1.0,
    top_k: Annotated[int, typer.Option(min=1, help="top-k sampling (official: 20)")] = 20,
    batch_size: Annotated[int, typer.Option(min=1, help="prompts per generate call")] = 8,
    limit: Annotated[int | None, typer.Option(min=1, help="answer only the first N questions")] = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace an existing OUT")] = False,
) -> None:
    """Answer questions with the R1-Router loop: route, retrieve, sub-answer (at most 3 times), final answer."""
    from rich.progress import Progress

    from stepgrpo.data.io import DataFileError, check_rows_output, write_rows
    from stepgrpo.outputs import OutputError
    from stepgrpo.router.embed import EmbeddingUnavailable
    from stepgrpo.router.inference import ModelPolicy, QuestionsError, answer_questions, read_questions, summarize
    from stepgrpo.router.kb import KBError, KnowledgeBases

    try:
        items = read_questions(questions, limit)
        check_rows_output(out, inputs=[questions, index], overwrite=overwrite)
        kbs = KnowledgeBases.load(index)
        if not model.is_dir():
            raise DataFileError(f"--model {model}: no such model folder")
    except (QuestionsError, DataFileError, KBError, EmbeddingUnavailable, OutputError) as error:
        raise _fail(str(error)) from None
    try:
        policy = ModelPolicy(model, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                             batch_size=batch_size)
    except (OSError, ValueError) as error:
        raise _fail(f"{model}: cannot load the model ({error})") from None
    if not policy.is_vlm and any(image for _, image in items):
        raise _fail(f"{questions}: some questions have an image but {model} is a text-only model")
    from transformers import set_seed

    set_seed(seed)
    with Progress(console=error_console, transient=True) as progress:
        task = progress.add_task("routing and retrieving", total=len(items))
        records = answer_questions(items, kbs, policy, k=k, max_retrievals=max_retrievals, retries=retries,
                                   on_done=lambda n: progress.advance(task, n))
    write_rows(out, records)
    summary = summarize(records)
    shown = ", ".join(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}"
                      for key, value in summary.items())
    console.print(f"wrote {len(records)} answers to {out} ({shown})", highlight=False)
