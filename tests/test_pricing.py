"""The pricing catalogue: built-in figures with sources, a user file merged over it, and clear errors."""

from __future__ import annotations

from datetime import date

import pytest

from service.pricing import CatalogueError, load_catalogue


def test_builtin_catalogue_has_sources_dates_and_plans():
    catalogue = load_catalogue(None)
    assert catalogue.price_for("groq", "llama-3.3-70b-versatile").input_per_m == 0.59
    assert catalogue.price_for("groq", "openai/gpt-oss-120b").cached_input_per_m == 0.075
    assert catalogue.price_for("groq", "llama-3.1-8b-instant").retired == date(2026, 8, 16)
    assert catalogue.gpu("runpod/A40").hourly == 0.39
    assert len(catalogue.plans) >= 2
    for entry in [*catalogue.models, *catalogue.gpus, *catalogue.plans]:
        assert entry.source and entry.as_of
    for plan in catalogue.plans:
        provider, model = plan.replaces.split("/", 1)
        assert catalogue.price_for(provider, model) is not None, plan.name
        assert catalogue.plan_gpu_hourly(plan)[0] > 0


def test_user_file_overrides_and_extends(tmp_path):
    user = tmp_path / "pricing.toml"
    user.write_text("""
[[models]]
provider = "groq"
model = "llama-3.3-70b-versatile"
input_per_m = 0.40
output_per_m = 0.60
as_of = "2026-11-01"
source = "our contract"

[[models]]
provider = "groq"
model = "llama-3.3-70b-versatile"
effective_from = "2026-12-01"
input_per_m = 0.30
output_per_m = 0.50
as_of = "2026-11-01"
source = "our contract, renewal"

[[plans]]
name = "mine"
replaces = "groq/llama-3.3-70b-versatile"
gpu_hourly = 1.5
as_of = "2026-11-01"
source = "our cluster"
""")
    catalogue = load_catalogue(user)
    assert catalogue.price_for("groq", "llama-3.3-70b-versatile", date(2026, 11, 15)).input_per_m == 0.40
    assert catalogue.price_for("groq", "llama-3.3-70b-versatile", date(2026, 12, 15)).input_per_m == 0.30
    assert catalogue.plan("mine").gpu_hourly == 1.5
    assert catalogue.plan("llama-3.3-70b-on-a40") is not None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[models]\n", "not valid TOML"),
        (
            '[[models]]\nprovider = "p"\nmodel = "m"\ninput_per_m = -1\noutput_per_m = 1\nas_of = "2026-01-01"\n'
            'source = "s"\n',
            "models.0.input_per_m",
        ),
        ('[[plans]]\nname = "p"\nas_of = "2026-01-01"\nsource = "s"\n', "needs `gpu`"),
        ('[[plans]]\nname = "p"\ngpu = "nowhere/X"\nas_of = "2026-01-01"\nsource = "s"\n', "unknown gpu"),
    ],
)
def test_bad_user_file_names_the_problem(tmp_path, text, needle):
    user = tmp_path / "pricing.toml"
    user.write_text(text)
    with pytest.raises(CatalogueError, match=needle.replace("`", ".").replace("(", r"\(")):
        load_catalogue(user)
