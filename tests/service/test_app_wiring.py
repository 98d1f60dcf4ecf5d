"""What create_app wires: Faust knows the agents, tables and internal topics by these names.

An agent's name is its id in Faust, and a table's name is in its changelog
topic's: renaming one (moving an agent to another module changes its default
name) would leave a running cluster's changelogs behind.
"""

import asyncio

from service.app import create_app
from service.config import load_settings


async def test_the_agents_tables_and_topics_keep_their_names(tmp_path):
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    app = create_app(settings, loop=asyncio.get_running_loop())
    topics, app_id = settings.topics, settings.app_id
    assert {name: sorted(agent.channel.topics) for name, agent in app.agents.items()} == {
        "service.app.ingest": sorted(topics.inputs),
        "service.app.process": [f"{app_id}-work"],
        "service.app.acknowledgements": [topics.warning_acks],
        "service.app.notify": [f"{app_id}-notify"],
    }
    assert {t.name: t.changelog_topic.get_topic_name() for t in app.tables.values()} == {
        name: f"{app_id}-{name}-changelog" for name in ("state", "storm-mode", "firing", "notify-groups")}
    routes = {(r.method, r.resource.canonical) for r in app.web.web_app.router.routes()}
    assert {("GET", "/metrics"), ("GET", "/healthz")} <= routes
