"""`python -m service.measure ...`: the measure command on its own, without the rest of the CLI."""

from service.measure.cli import measure

if __name__ == "__main__":
    measure(prog_name="breakeven measure")
