"""District labels stay few whatever district ids events carry."""

from prometheus_client import generate_latest

from service import metrics


def exposition() -> list[str]:
    return generate_latest(metrics.REGISTRY).decode().splitlines()


def flood(labels: metrics.DistrictLabels, firing: metrics.FiringWarnings, n: int) -> None:
    for i in range(n):
        district = f"D{i:05d}"
        firing.set(f"district:{district}", "complaints.surge", "yellow", district)
        firing.set(f"ticket:T{i}", "repair.arrival_overdue", "red", district)
        labels.statistic("complaints_24h", district, 7.0, None)
        labels.statistic("arrival_p90_minutes", district, 42.0, None)


def test_twenty_thousand_district_ids_keep_the_metrics_page_small():
    before = len(exposition())
    labels = metrics.DistrictLabels(cap=50)
    firing = metrics.FiringWarnings(labels)
    try:
        flood(labels, firing, 20_000)
        lines = exposition()
        # 50 districts of their own, each in 2 firing label sets and 2 gauges, plus "other"
        assert len(lines) - before < 300
        assert 'risk_warnings_firing{district="other",rule="complaints.surge",severity="yellow"} 19950.0' in lines
        assert not any('district="D19999"' in line for line in lines)
    finally:
        firing.clear()
        for i in range(50):
            labels.forget(f"D{i:05d}")
    assert len(exposition()) == before  # every label set removed again


def test_with_reference_data_only_its_districts_have_labels_of_their_own():
    labels = metrics.DistrictLabels({"D00003"}, cap=500)
    firing = metrics.FiringWarnings(labels)
    try:
        flood(labels, firing, 10)
        lines = exposition()
        assert any('district="D00003"' in line for line in lines)
        assert not any('district="D00004"' in line for line in lines)
        assert 'risk_warnings_firing{district="other",rule="complaints.surge",severity="yellow"} 9.0' in lines
    finally:
        firing.clear()
        labels.forget("D00003")


def test_a_label_set_goes_when_its_warnings_resolve_or_its_district_is_deleted():
    labels = metrics.DistrictLabels(cap=10)
    firing = metrics.FiringWarnings(labels)
    firing.set("district:DX", "complaints.surge", "yellow", "DX")
    labels.statistic("complaints_24h", "DX", 9.0, None)
    assert any('district="DX"' in line for line in exposition())
    firing.set("district:DX", "complaints.surge", None, "DX")
    labels.forget("DX")
    assert not any('district="DX"' in line for line in exposition())
