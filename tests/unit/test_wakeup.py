"""Claimers are woken one at a time, and no wake-up is lost while they are all busy."""

from __future__ import annotations

import asyncio
import threading

from chipin.bot.claims import Wakeup


async def woken(wake: Wakeup, count: int, timeout: float) -> list[bool]:
    """``count`` claimers wait at once; which of them were woken before ``timeout``."""

    async def one() -> bool:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wake.wait(timeout)
        return loop.time() - started < timeout * 0.9

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.sleep(0.01)  # all of them idle now
    wake.set()
    return list(await asyncio.gather(*tasks))


def test_a_set_wakes_one_idle_claimer_not_all() -> None:
    assert sorted(asyncio.run(woken(Wakeup(), 3, 0.3))) == [False, False, True]


def test_a_set_while_nobody_waits_is_kept_for_the_next_wait() -> None:
    async def run() -> float:
        wake = Wakeup()
        wake.set()  # every claimer busy: the claim that just ran may have missed the message
        loop = asyncio.get_running_loop()
        started = loop.time()
        await wake.wait(5)
        return loop.time() - started

    assert asyncio.run(run()) < 0.5


def test_a_set_from_another_thread_wakes_a_claimer() -> None:
    async def run() -> float:
        wake = Wakeup()
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = asyncio.create_task(wake.wait(5))
        await asyncio.sleep(0.01)
        threading.Thread(target=wake.set).start()
        await waiting
        return loop.time() - started

    assert asyncio.run(run()) < 0.5


def test_set_all_wakes_every_claimer() -> None:
    async def run() -> list[bool]:
        wake = Wakeup()

        async def one() -> bool:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await wake.wait(5)
            return loop.time() - started < 0.5

        tasks = [asyncio.create_task(one()) for _ in range(4)]
        await asyncio.sleep(0.01)
        wake.set_all()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(run()) == [True] * 4
