"""What a `dvx queue start` stopped by Ctrl-C (SIGTERM, SIGHUP) says: the state it leaves each
entry it had taken up in, and the command that goes on from there. Runs it started go on in
their own process groups; an entry it was readying to run (fetching the data its run needs,
making its worktree) had not started and stays queued. A stop that leaves neither says only
that nothing was left half-written."""

from __future__ import annotations

from dataclasses import dataclass

from dvx.errors import NOTHING_HALF_WRITTEN, STOPPED_BY, Interrupted, stop_status

FETCHING = "fetching the data its run needs into the cache"
MAKING_WORKTREE = "making the worktree it runs in"


@dataclass
class Readying:
    """The entry `queue start` readies to run, from taking it up to launching its run, and
    the step it is at (FETCHING, MAKING_WORKTREE); `name` None between entries."""
    name: str | None = None
    step: str = ""


def stopped_start(stop: KeyboardInterrupt | Interrupted, going_on: list[str],
                  queued: Readying | None) -> Interrupted:
    """The error of a `queue start` that `stop` ended while the runs `going_on` went on, and
    the entry `queued` (None: none), still queued, was being readied to run. What an
    Interrupted `stop` said (a fetch's: how many objects came) is said first, and its hint
    kept unless it is the one that says to run the command again, which these replace."""
    said = [stop.message if isinstance(stop, Interrupted) else f"{STOPPED_BY[stop_status(stop)]}."]
    hints = []
    if isinstance(stop, Interrupted) and stop.hint and stop.hint != NOTHING_HALF_WRITTEN:
        hints.append(stop.hint)
    if queued is not None and queued.name is not None:
        fetching = queued.step == FETCHING
        said.append(f"'{queued.name}' had not started: `dvx queue start` was {queued.step} when "
                    f"it stopped. It is still queued, with its snapshot" +
                    (", and the data fetched so far stays in the cache." if fetching else "."))
        hints.append("`dvx queue start` " + ("fetches the rest and " if fetching else "") +
                     f"runs it, with the other experiments still queued (`dvx queue remove "
                     f"{queued.name}` drops it).")
    if going_on:
        one = len(going_on) == 1
        them = "it" if one else "them"
        said.append(("The experiment it started goes on running, in its" if one else
                     "The experiments it started go on running, each in its")
                    + f" own process group: {', '.join(going_on)}.")
        hints.append(f"`dvx queue status` follows {them}: the first queue command after a run "
                     "ends records it (done if it recorded its experiment, else failed) and "
                     f"removes its worktree. `dvx queue stop` ends {them}" +
                     ("." if queued is not None and queued.name is not None else
                      ", and `dvx queue start` runs the experiments still queued."))
    stopped = Interrupted(" ".join(said), " ".join(hints))
    stopped.exit_code = stop_status(stop)
    return stopped
