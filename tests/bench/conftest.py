"""A 3-layer space of the digits' shape with every kind of op, registered as "tiny" (its supernet
compiles in a fraction of the quickstart space's time), and a table recipe "tiny" on it."""

import pytest

from dianjax.bench import recipe
from dianjax.nas.search_space import SPACES, SearchSpace


def tiny_space(num_classes: int = 10) -> SearchSpace:
    return SearchSpace(image_size=8, in_channels=1, num_classes=num_classes, stem_channels=4,
                       stages=((4, 2, 1), (8, 1, 2)), op_names=("mb_k3_e1", "mb_k5_e3", "skip"),
                       head_channels=8)


@pytest.fixture()
def tiny_recipe(monkeypatch):
    """Registers space "tiny" and table "tiny" (digits, 1 epoch, batch 128, seeds 0 and 1)."""
    monkeypatch.setitem(SPACES, "tiny", tiny_space)
    monkeypatch.setitem(recipe.TABLES, "tiny", recipe.Recipe(
        dataset="digits", space="tiny", num_epochs=1, batch_size=128, seeds=(0, 1)))
    return "tiny"
