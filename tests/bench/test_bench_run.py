"""The benchmark's own arithmetic: the service-code ceiling it measures and where it puts the target."""

from bench.run import part_core, standing


def test_core_part_runs_the_service_code_over_the_mix_and_reports_its_ceiling():
    r = part_core(400, seed=3)
    assert 350 <= r["events"] <= 450  # the mix makes about the number asked for
    assert r["state_updates"] > r["events"]  # a ticket's events reach its district too
    assert r["seconds"]["engine.on_event"] > 0
    assert r["eps_one_core"] == r["events"] / sum(r["seconds"].values())


def test_standing_orders_the_ceilings_and_says_which_reach_the_target():
    lines = standing({"drain": {"eps_from_first": 170_000.0}, "floor": {"eps_from_first": 6_200.0},
                      "core": {"eps_one_core": 12_000.0}, "throughput": {"eps_pipeline_from_first": 1_431.0}},
                     target=10_000)
    assert [line.split()[0] for line in lines] == ["(b)", "(b''')", "(b')", "(c)"]
    assert lines[1].endswith("x1.20 of 10000: at or above")
    assert lines[2].endswith("x0.62 of 10000: below")
    assert len(lines) == 4  # parts the run did not measure are left out


def test_standing_without_measurements_says_nothing():
    assert standing({}) == []


def test_a_mix_started_days_ago_is_the_same_all_day():
    from bench.mix import days_ago, mix

    morning, evening = 1_790_000_000 // 86400 * 86400 + 60, 1_790_000_000 // 86400 * 86400 + 86000
    assert days_ago(3, morning) == days_ago(3, evening) <= morning - 3 * 86400
    assert mix(300, days_ago(3, morning), 3600) == mix(300, days_ago(3, evening), 3600)
    assert days_ago(3, evening + 1000) == days_ago(3, evening) + 86400
