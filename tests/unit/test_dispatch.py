from pylm.parts.dispatch import WorkerPool


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pool(**kw) -> tuple[WorkerPool, Clock]:
    clock = Clock()
    return WorkerPool(clock=clock, **kw), clock


def test_jobs_go_only_to_workers_with_credit_and_are_spread() -> None:
    p, _ = pool()
    for i in range(10):
        p.submit(b"%d" % i)
    assert p.assign() == []  # no worker yet
    p.hello(b"a", 3)
    p.hello(b"b", 3)
    given = {ident: [j.seq for j in jobs] for ident, jobs in p.assign()}
    assert sum(len(v) for v in given.values()) == 6 and set(given) == {b"a", b"b"}
    assert len(p.pending) == 4
    assert p.assign() == []  # no credit left


def test_a_result_frees_credit_and_a_duplicate_is_dropped() -> None:
    p, _ = pool()
    job = p.submit(b"x")
    p.hello(b"a", 1)
    p.assign()
    assert p.result(b"a", job.seq, 0, True) is job
    assert p.result(b"a", job.seq, 0, True) is None
    p.submit(b"y")
    assert len(p.assign()[0][1]) == 1  # credit came back


def test_dead_worker_jobs_are_redelivered_in_order_and_the_running_one_blamed() -> None:
    p, clock = pool(liveness=3.0)
    jobs = [p.submit(b"%d" % i) for i in range(3)]
    p.hello(b"a", 3)
    p.assign()
    clock.now = 1.0
    p.hello(b"b", 3)
    clock.now = 3.5  # a is silent for 3.5 s, b for 2.5 s
    dead, failed = p.expire()
    assert dead == [b"a"] and failed == []
    assert [j.seq for j in p.pending] == [j.seq for j in jobs]
    assert [j.deaths for j in jobs] == [1, 0, 0]
    (ident, again), = p.assign()
    assert ident == b"b" and [j.seq for j in again] == [j.seq for j in jobs]


def test_a_job_that_kills_workers_is_given_up() -> None:
    p, clock = pool(liveness=1.0, max_deaths=2)
    poison = p.submit(b"poison")
    for name in (b"a", b"b"):
        p.hello(name, 1)
        p.assign()
        clock.now += 2
        dead, failed = p.expire()
        assert dead == [name]
    assert failed == [poison] and poison.seq not in p.jobs and not p.pending


def test_late_answer_of_a_dead_worker_wins_and_the_copy_is_a_duplicate() -> None:
    p, clock = pool(liveness=1.0)
    job = p.submit(b"x")
    p.hello(b"a", 1)
    p.assign()
    clock.now = 2
    p.expire()
    p.hello(b"b", 1)
    p.assign()  # redelivered to b
    assert p.result(b"a", job.seq, 0, True) is job  # a's answer arrives late: first wins
    assert p.result(b"b", job.seq, 0, True) is None  # b's copy is a duplicate
    p.submit(b"next")
    assert p.assign()[0][0] == b"b"  # b got its credit back


def test_partial_results_are_not_published_twice_after_redelivery() -> None:
    p, clock = pool(liveness=1.0)
    job = p.submit(b"x")
    p.hello(b"a", 1)
    p.assign()
    assert p.result(b"a", job.seq, 0, False) is job
    clock.now = 2
    p.expire()
    p.hello(b"b", 1)
    p.assign()
    assert p.result(b"b", job.seq, 0, False) is None  # already published by a
    assert p.result(b"b", job.seq, 1, False) is job
    assert p.result(b"b", job.seq, 2, True) is job
    assert job.seq not in p.jobs


def test_goodbye_requeues_without_blame_and_hello_again_resets() -> None:
    p, _ = pool()
    job = p.submit(b"x")
    p.hello(b"a", 1)
    p.assign()
    p.bye(b"a")
    assert list(p.pending) == [job] and job.deaths == 0
    p.hello(b"a", 1)
    p.assign()
    p.hello(b"a", 1)  # restarted with the same name
    assert list(p.pending) == [job] and job.deaths == 0


def test_back_pressure_bound() -> None:
    p, _ = pool(max_pending=2)
    p.submit(b"1")
    assert p.accepting()
    p.submit(b"2")
    assert not p.accepting()
