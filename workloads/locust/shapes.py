"""Load shapes for the users of locustfile.py: pass this file after it
(`-f workloads/locust/locustfile.py,workloads/locust/shapes.py`) and choose one shape with
--shape (Locust takes only one shape class, so the others stay abstract).

- step: --step-from users, then --step-by more every --step-seconds, up to --step-to
  (for example 10 → 500); where throughput stops growing is the saturation point.
- spike: --spike-base users, --spike-to users for --spike-seconds in the middle of
  --step-seconds × 3, then the base again: how the system absorbs and recovers from a burst.
"""

from locust import LoadTestShape, events


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--shape", choices=["step", "spike"], default="step", help="the load shape")
    parser.add_argument("--step-from", type=int, default=10, help="users at the first step")
    parser.add_argument("--step-by", type=int, default=10, help="users added at each step")
    parser.add_argument("--step-to", type=int, default=500, help="users at the last step")
    parser.add_argument("--step-seconds", type=int, default=30, help="seconds per step")
    parser.add_argument("--spike-base", type=int, default=10, help="users before and after the spike")
    parser.add_argument("--spike-to", type=int, default=200, help="users during the spike")
    parser.add_argument("--spike-seconds", type=int, default=15, help="how long the spike lasts")


class LabShape(LoadTestShape):
    """The shape --shape names, stepped or spiked; None ends the run."""

    def tick(self):
        options = self.runner.environment.parsed_options
        elapsed = self.get_run_time()
        if options.shape == "spike":
            return _spike(options, elapsed)
        return _step(options, elapsed)


def _step(options, elapsed):
    step = int(elapsed // options.step_seconds)
    users = options.step_from + step * options.step_by
    if users > options.step_to:
        return None
    # Spawned within a second or two, so each step is mostly steady load.
    return users, max(users, 1)


def _spike(options, elapsed):
    calm = options.step_seconds
    if elapsed < calm:
        return options.spike_base, options.spike_base
    if elapsed < calm + options.spike_seconds:
        return options.spike_to, options.spike_to
    if elapsed < 2 * calm + options.spike_seconds:
        return options.spike_base, options.spike_base
    return None
