"""The repository stands alone: the README and docs point at the repository's own documents."""

from __future__ import annotations

import re
from pathlib import Path

from service import docs
from service.config import Topics

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTS = [ROOT / "README.md", ROOT / "schemas" / "README.md", ROOT / "deploy" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]


def test_no_document_points_outside_the_repository_for_the_contract_or_rules():
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for outside in ("CONTRACT.md", "RULES.md", "FAUST_NOTES.md", "STYLE.md"):
            assert outside not in text, f"{path.relative_to(ROOT)} mentions {outside}"


def test_the_readme_names_every_topic():
    topics_section = README.split("## Topics", 1)[1].split("\n## ", 1)[0]
    for topic in Topics().model_dump().values():
        assert re.search(rf"^\| `{re.escape(topic)}` \|", topics_section, re.M), topic
    internal_topics, tables = docs.internal_names()
    for suffix in internal_topics:
        assert f"`<app_id>-{suffix}`" in topics_section
    for table in tables:
        assert f"`<app_id>-{table}-changelog`" in topics_section


def test_the_first_screen_has_the_commands_the_urls_and_how_to_stop_and_connect():
    first = README[:3500]
    for needed in ("make demo", "make test", "/board", "/metrics", "risk-warnings", "RISK_KAFKA_BOOTSTRAP",
                   "make stop", "deploy/kafka.sh stop"):
        assert needed in first, needed


def test_relative_links_in_the_readme_resolve():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target


def test_the_makefile_has_docs_and_stop():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^stop: kafka-stop$", makefile, re.M)
    assert re.search(r"^docs:.*\n\t\$\(BIN\)/python -m service\.docs$", makefile, re.M)
