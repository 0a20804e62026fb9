"""Email templates: where each customer email's template is, in which language, from which folder.

Templates live in ``include/templates/<name>/`` (``subject.txt``, ``body.txt``, ``body.html``); a
cohort file may name a folder of its own (``templates:``), searched first, file by file. A journey
email's template is its journey's own (``journeys/<journey>/<stage>/<kind>/``) when there is one,
else its role's default (``journey/<role>/``); within that folder, the customer's language variant
(``<lang>/``) when it exists, else the folder's own files. A journey's titles in a language are in
``journeys/<journey>/titles.<lang>.yaml``. No file outside a template folder is ever read: a name
with '..' is refused, and so is a link that leads out (``TemplateRefused``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from onboarding.languages import DEFAULT as DEFAULT_LANGUAGE, normalise_language
from onboarding.paths import TEMPLATES_DIR


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class TemplateRefused(Exception):
    """A template file that may not be read: a link (or a path) out of its template folder."""


def _confined_loader():
    """A loader over template folders, searched in order, that reads no file outside its folder:
    a name with '..' is refused by Jinja's own splitting, a symlink leading out by the resolved path."""
    import jinja2
    from jinja2.loaders import split_template_path

    class Confined(jinja2.BaseLoader):
        def __init__(self, roots):
            self.roots = [Path(r).resolve() for r in roots]

        def get_source(self, environment, template):
            pieces = split_template_path(template)
            for root in self.roots:
                path = root.joinpath(*pieces)
                if not path.is_file():
                    continue
                real = path.resolve()
                if root not in real.parents:
                    raise TemplateRefused(f"{path}: leads out of the template folder {root} (a link?): refused")
                return real.read_text("utf-8"), str(real), lambda: True
            raise jinja2.TemplateNotFound(template)

    return Confined


@functools.cache
def _env(folder: str | None = None):
    """The template environment: the built-in templates, after ``folder`` (a cohort file's own
    template folder, searched first) when given."""
    import jinja2

    from onboarding import words

    roots = [*([folder] if folder else []), str(TEMPLATES_DIR)]
    env = jinja2.Environment(
        loader=_confined_loader()(roots),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates change with a deployment, not during a run: no stat of four files per email.
        auto_reload=False,
    )
    # The same words everywhere she reads (email, CSV, sheet, page); a file by its name only,
    # never a server's path.
    env.filters.update(standing=words.standing, email_state=words.email_state,
                       basename=lambda p: PurePath(str(p or "").replace("\\", "/")).name)
    env.own_templates = {}  # template_exists' lookups: a template file exists in a folder or not
    env.titles = {}  # journey_titles' reads: a journey's titles in a language
    return env


def template_exists(env: Any, name: str) -> bool:
    """Whether ``name`` (``journey/enter/de/subject.txt``) is in one of the environment's folders;
    looked up once per environment (templates change with a deployment, not during a run, as the
    environment's own cache assumes): not a stat of the disk for every email."""
    import jinja2

    found = env.own_templates
    if name not in found:
        try:
            env.loader.get_source(env, name)
            found[name] = True
        except jinja2.TemplateNotFound:
            found[name] = False
    return found[name]


def render_in(env: Any, kind: str, context: dict[str, Any]) -> Rendered:
    """The three files of template folder ``kind`` rendered with ``context``."""
    subject = " ".join(env.get_template(f"{kind}/subject.txt").render(**context).split())
    return Rendered(
        subject=subject,
        text=env.get_template(f"{kind}/body.txt").render(**context),
        html=env.get_template(f"{kind}/body.html").render(**context, subject_line=subject),
    )


def stage_role(stage: Any, kind: str) -> str:
    """Which default a journey email falls back on: ``enter`` (an email on entering the stage),
    ``complete``, ``reminder`` (``reminder_1``, ``reminder_2``...) or ``cancellation``."""
    role = stage.role(kind)
    if role is None:
        raise ValueError(f"stage {stage.id!r} sends no email {kind!r}")
    return role


@dataclass(frozen=True)
class Choice:
    """The template an email is rendered from: its folder (``journey/enter``), the language
    variant used (``de``: ``journey/enter/de/``; None: the folder's own files, English) and
    whether that is the journey's own template or its role's default."""

    folder: str
    language: str | None
    own: bool

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.language}" if self.language else self.folder

    @property
    def lang(self) -> str:
        """The language the email is written in (its dates too)."""
        return self.language or DEFAULT_LANGUAGE


def choose_template(journey_id: str, stage: Any, kind: str, language: str | None = None,
                    folder: str | None = None) -> Choice:
    """The template of a journey email: the journey's own (``journeys/<journey>/<stage>/<kind>/``)
    when there is one, else the default for its role (``journey/<role>/``): a journey needs no
    template to start with. Within it, the ``language`` variant (``<lang>/``) when it has one, else
    the default files. ``folder``: the cohort file's template folder, searched before the built-in
    one. ``language`` is normalised here again: a value that is no language tag is the default."""
    env = _env(folder)
    own = f"journeys/{journey_id}/{stage.id}/{kind}"
    is_own = template_exists(env, f"{own}/subject.txt")
    chosen = own if is_own else f"journey/{stage_role(stage, kind)}"
    lang = normalise_language(language)
    if lang and lang != DEFAULT_LANGUAGE and template_exists(env, f"{chosen}/{lang}/subject.txt"):
        return Choice(chosen, lang, is_own)
    return Choice(chosen, None, is_own)


def stage_template(journey_id: str, stage: Any, kind: str, language: str | None = None,
                   folder: str | None = None) -> str:
    """The template folder a journey email is rendered from (``choose_template``)."""
    return choose_template(journey_id, stage, kind, language, folder).path


class Titled:
    """A journey or stage as its templates read it, its ``title`` in the email's language."""

    def __init__(self, inner: Any, title: str):
        self._inner, self.title = inner, title

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def journey_titles(env: Any, journey_id: str, lang: str | None) -> dict[str, Any]:
    """A journey's titles in ``lang`` (``journeys/<journey>/titles.<lang>.yaml``: ``title`` and
    ``stages: {stage id: title}``), empty when it has none; read once per environment."""
    import yaml

    key = (journey_id, lang)
    if key not in env.titles:
        name = f"journeys/{journey_id}/titles.{lang}.yaml"
        found: dict[str, Any] = {}
        if lang and template_exists(env, name):
            data = yaml.safe_load(env.loader.get_source(env, name)[0])
            if not isinstance(data, dict) or not isinstance(data.get("stages", {}), dict) or not all(
                    isinstance(v, str) for v in [data.get("title", ""), *data.get("stages", {}).values()]):
                raise ValueError(f"{name}: expected 'title: <text>' and 'stages: {{<stage id>: <text>}}'")
            found = data
        env.titles[key] = found
    return env.titles[key]




def template_languages(folder: str | Path) -> list[str]:
    """The languages a template folder has variants in: every ``<lang>/subject.txt`` and every
    ``titles.<lang>.yaml`` under it, as plain language tags."""
    root = Path(folder)
    found = {p.parent.name for p in root.rglob("subject.txt")} | {
        p.name[len("titles."):-len(".yaml")] for p in root.rglob("titles.*.yaml")}
    return sorted(lang for lang in found if normalise_language(lang) == lang and lang != DEFAULT_LANGUAGE)


def folder_problems(folder: Path) -> list[str]:
    """Why a cohort file's template folder may not be used: it is no folder, or something in it
    is a link leading out of it (a template read through it would be a file of the server's)."""
    import os

    if not folder.is_dir():
        return [f"{folder}: no such folder"]
    root, problems = folder.resolve(), []
    for here, dirs, files in os.walk(folder, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(here) / name
            if path.is_symlink() and root not in path.resolve().parents:
                problems.append(f"{path}: a link leading out of the template folder {folder}: refused")
    return problems


def sample_context(cohort: Any, journey: Any, stage: Any, lang: str, unsubscribe: Any = None) -> dict[str, Any]:
    """What a customer email's templates are given (``messages.stage_email``'s keys), with sample
    values: a template is checked by rendering it with these."""
    import datetime as dt
    from types import SimpleNamespace

    from onboarding.languages import day_month_year, long_datetime

    when = dt.datetime.combine(cohort.deadline, dt.time(23, 59), cohort.tz)
    titles = journey_titles(_env(getattr(cohort, "templates", None)), journey.id, lang)
    return {"name": "Ann Example", "greeting_name": "Ann", "cohort": cohort,
            "deadline": f"{long_datetime(when, lang)} ({cohort.timezone})",
            "deadline_date": day_month_year(cohort.deadline, lang), "course_url": cohort.course_url,
            "next_steps": list(cohort.next_steps), "ref": "onb-0123456789abcdef0123", "lang": lang,
            "signature": "The course team", "journey": Titled(journey, titles.get("title") or journey.title),
            "stage": Titled(stage, (titles.get("stages") or {}).get(stage.id) or stage.title),
            "due": f"{long_datetime(when, lang)} ({cohort.timezone})", "unsubscribe": unsubscribe,
            "csm": SimpleNamespace(name="Sam Sample", email="sam@example.com")}


def check_templates(cohort: Any, journey: Any) -> list[str]:
    """Every email ``journey`` can send, in the default and in every language the cohort's
    template folder has variants in: which template it uses (its own or a fallback), and that each
    of its three files renders with sample data (with and without an unsubscribe line). Each
    problem names the file (relative to its template folder) and what is wrong."""
    import jinja2
    from types import SimpleNamespace

    folder = getattr(cohort, "templates", None)
    env = _env(folder)
    problems: list[str] = []
    languages = [None, *template_languages(folder)] if folder else [None]
    for lang in languages:
        try:
            journey_titles(env, journey.id, lang)
        except (ValueError, TemplateRefused) as exc:
            problems.append(str(exc))
            continue
        for stage, kind in journey.email_kinds():
            choice = choose_template(journey.id, stage, kind, lang, folder)
            for unsubscribe in (None, SimpleNamespace(mailto="team+unsubscribe@example.com", url=None)):
                context = sample_context(cohort, journey, stage, choice.lang, unsubscribe)
                for file in ("subject.txt", "body.txt", "body.html"):
                    name = f"{choice.path}/{file}"
                    try:
                        env.get_template(name).render(**context, subject_line="")
                    except jinja2.TemplateNotFound as exc:
                        problems.append(f"{name}: missing, for {stage.id}:{kind}" if exc.name == name else
                                        f"{name}: needs {exc.name}, which is missing (for {stage.id}:{kind})")
                    except jinja2.TemplateSyntaxError as exc:
                        problems.append(f"{exc.filename or name}: line {exc.lineno}: {exc.message}")
                    except TemplateRefused as exc:
                        problems.append(str(exc))
                    except Exception as exc:  # noqa: BLE001 - any error a template raises, reported by file
                        problems.append(f"{name}: does not render for {stage.id}:{kind} ({type(exc).__name__}: {exc})")
    return list(dict.fromkeys(problems))


def missing_variants(journey: Any, lang: str, folder: str | None = None) -> list[tuple[str, str]]:
    """The emails of ``journey`` that have no ``lang`` variant, each with the template it falls
    back on (``journey/enter``: written in English): ``[(ledger kind, fallback folder)]``."""
    out = []
    for stage, kind in journey.email_kinds():
        choice = choose_template(journey.id, stage, kind, lang, folder)
        if choice.language != lang:
            out.append((journey.ledger_kind(stage, kind), choice.path))
    return out
