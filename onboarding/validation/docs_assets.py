"""GX Data Docs that render offline and survive being copied.

GX writes its Data Docs pages to load Bootstrap, jQuery, Font Awesome, bootstrap-table and Vega
from public CDNs, and its logo from S3: offline (a locked-down server, a copy opened on a train)
a page is an empty, unstyled index. Here those files are fetched once from the npm registry at
setup (``python -m onboarding.ops.docs_assets``, run by ``scripts/setup.sh``), each package
checked against its pinned sha512, into a local folder; after every build the pages are rewritten
to load them from the site's own ``static/vendor`` folder, which holds real files (hard links where
the file system allows, so a nightly site costs no space), never a symlink out of the site:
with Font Awesome's webfonts (its stylesheet loads them: icons, not empty boxes) and Bootstrap's
bundle (its own Popper inside). Each page also gets a link back to the cohort's Onboarding page.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from onboarding import paths

NPM = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the npm registry's sha512 of the tarball
    files: tuple[str, ...]  # paths inside the tarball (under package/), kept under vendor/<folder>/
    folder: str

    @property
    def tarball(self) -> str:
        return f"{NPM}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES = (
    Package("bootstrap", "4.3.1", "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
            ("dist/css/bootstrap.min.css", "dist/js/bootstrap.bundle.min.js"), "bootstrap"),
    Package("jquery", "3.7.1", "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
            ("dist/jquery.min.js",), "jquery"),
    Package("bootstrap-table", "1.19.1", "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
            ("dist/bootstrap-table.min.css", "dist/bootstrap-table.min.js",
             "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
             "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"), "bootstrap-table"),
    Package("bootstrap-datepicker", "1.9.0", "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
            ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"), "bootstrap-datepicker"),
    Package("@fortawesome/fontawesome-free", "6.6.0", "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
            ("css/all.min.css", "webfonts/fa-brands-400.woff2", "webfonts/fa-regular-400.woff2",
             "webfonts/fa-solid-900.woff2", "webfonts/fa-v4compatibility.woff2"), "fontawesome"),
    Package("@forevolve/bootstrap-dark", "1.1.0", "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
            ("dist/css/bootstrap-prefers-dark.css",), "bootstrap-dark"),
    Package("vega", "5.30.0", "sha512-ZGoC8LdfEUV0LlXIuz7hup9jxuQYhSaWek2M7r9dEHAPbPrzSQvKXZ0BbsJbrarM100TGRpTVN/l1AFxCwDkWw==",
            ("build/vega.min.js",), "vega"),
    Package("vega-lite", "5.21.0", "sha512-hNxM9nuMqpI1vkUOhEx6ewEf23WWLmJxSFJ4TA86AW43ixJyqcLV+iSCO0NipuVTE0rlDcc2e8joSewWyOlEwA==",
            ("build/vega-lite.min.js",), "vega-lite"),
    Package("vega-embed", "6.26.0", "sha512-AZCTdKHDAuhp6TFZRQOOs332tStCwZr/5e4uZMNEuJL69A57cT66NNZJdNiCP6u66REzIToYtMJhMTL9wl5B3A==",
            ("build/vega-embed.min.js",), "vega-embed"),
)

# Each remote file GX's pages load -> the local file (under static/vendor) that replaces it.
REWRITES = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    # Bootstrap's bundle holds the Popper it was built with; GX's separate popper.js goes (below).
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
# GX's logo comes from S3 with a cache-busting query: shown as text offline.
_LOGO = re.compile(r'<img[^>]*src="https://great-expectations-web-assets\.s3[^"]*"[^>]*>')
_POPPER = re.compile(r'<script[^>]*src="https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/[^"]*"[^>]*></script>\n?')
# GX pins the CDN files' own hashes (integrity=, crossorigin=): the npm files differ byte for byte
# (checked against their own pinned sha512 at fetch), and a browser refuses a script whose hash
# differs, or a file:// one asked for with CORS: Bootstrap never ran ("$(...).modal is not a function").
_PINNED = re.compile(r'\s(?:integrity|crossorigin)="[^"]*"')
_STATIC = re.compile(r'"(?:\./|(?:\.\./)+)?static/')
_REMOTE_LOAD = re.compile(r'(?:src|href)="(https?://[^"]+)"')


def vendor_dir() -> Path:
    """Where the fetched files live on this machine (``ONBOARDING_VENDOR_DIR``, default
    ``var/vendor/data-docs`` in the checkout)."""
    return Path(os.environ.get("ONBOARDING_VENDOR_DIR", paths.PROJECT_ROOT / "var" / "vendor" / "data-docs"))


def _kept() -> list[str]:
    """Every file kept under the vendor folder: those the pages load, and those they load in
    turn (Font Awesome's webfonts, which its stylesheet names)."""
    return sorted({f"{p.folder}/{f}" for p in PACKAGES for f in p.files})


def missing(folder: Path | None = None) -> list[str]:
    """The local files a page needs that are not (yet) in ``folder``."""
    folder = folder or vendor_dir()
    return [f for f in _kept() if not (folder / f).is_file()]


def fetch(folder: Path | None = None, get=None) -> list[str]:
    """Download each package's tarball from the npm registry, check it against its pinned
    sha512 (a tampered or truncated download is refused), and keep the files the pages need.
    Returns the packages fetched (those already complete are skipped)."""
    import urllib.request

    folder = folder or vendor_dir()
    get = get or (lambda url: urllib.request.urlopen(url, timeout=60).read())  # noqa: S310 - fixed https URLs
    fetched = []
    for pkg in PACKAGES:
        wanted = [folder / pkg.folder / f for f in pkg.files]
        if all(p.is_file() for p in wanted):
            continue
        data = get(pkg.tarball)
        algo, _, expected = pkg.integrity.partition("-")
        actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if actual != expected:
            raise ValueError(f"{pkg.name}@{pkg.version}: the download does not match its pinned {algo} "
                             f"(got {algo}-{actual[:16]}...); refusing it")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for name, dest in zip(pkg.files, wanted):
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise ValueError(f"{pkg.name}@{pkg.version}: {name} is not in the package")
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(dest.name + ".part")
                tmp.write_bytes(member.read())
                os.replace(tmp, dest)
        fetched.append(f"{pkg.name}@{pkg.version}")
    return fetched


def make_offline(site: Path, vendor: Path | None = None, gx_static: Path | None = None) -> list[str]:
    """Rewrite a built Data Docs site to load nothing from the network: every CDN file from
    ``static/vendor``, GX's own files (its favicon, from ``gx_static``) copied in, the S3 logo as
    text. Returns the remote addresses still loaded by some page (empty when the site is fully
    offline); needs the files ``fetch`` keeps."""
    vendor = vendor or vendor_dir()
    static = site / "static"
    static.mkdir(exist_ok=True)
    if gx_static is not None and (gx_static / "images" / "favicon.ico").is_file():
        _place(gx_static / "images" / "favicon.ico", static / "images" / "favicon.ico")
    for rel in _kept():
        _place(vendor / rel, static / "vendor" / rel)
    left: set[str] = set()
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        up = "../" * (len(page.relative_to(site).parts) - 1)
        text = _POPPER.sub("", text)
        for remote, local in REWRITES.items():
            text = text.replace(f'"{remote}"', f'"{up}static/vendor/{local}"')
        text = _PINNED.sub("", text)
        text = _LOGO.sub('<span class="h5 mb-0">Great Expectations</span>', text)
        # GX points some nested pages at static/ one folder too shallow: every page to its site's own.
        text = _STATIC.sub(f'"{up}static/', text)
        page.write_text(text, encoding="utf-8")
        left |= {u for u in _REMOTE_LOAD.findall(text) if _loads(text, u)}
    return sorted(left)


BACK = "onboarding-back"  # the class of the link back to the Onboarding page


def link_back(site: Path, cohort: str) -> None:
    """Each page of a run's site gets a link back to the cohort's Onboarding page, in GX's top
    bar. The plugin serves the site at ``/onboarding/cohorts/<cohort>/runs/<run>/docs/``, so the
    link is relative (it holds under any base URL Airflow is served at); in a copied run folder
    it leads nowhere, and says where it would."""
    from urllib.parse import quote

    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if BACK in text:
            continue
        up = "../" * (len(page.relative_to(site).parts) - 1 + 4)  # docs/, <run>/, runs/, <cohort>/
        link = (f'<a class="{BACK} btn btn-sm btn-outline-primary ml-3" href="{up}{quote(cohort, safe="")}" '
                f'>&larr; Onboarding page of cohort {html.escape(cohort)}</a>')
        text = text.replace('<div class="mr-auto">', f'<div class="mr-auto d-flex align-items-center">{link}', 1)
        page.write_text(text, encoding="utf-8")


def _loads(text: str, url: str) -> bool:
    """Whether a page loads ``url`` (a script, a stylesheet, an image), as opposed to linking to it."""
    return bool(re.search(rf'<(?:script|img)[^>]*src="{re.escape(url)}"|<link[^>]*href="{re.escape(url)}"', text))


def _place(src: Path, dest: Path) -> None:
    """A real file at ``dest`` with ``src``'s bytes: a hard link where possible (no space used;
    a copy of the site gets real bytes), else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
