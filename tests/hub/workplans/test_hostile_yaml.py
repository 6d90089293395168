"""hub.workplans refuses hostile YAML before building it: anchors and aliases with their line, too many nodes, bad keys.

A refusal is cheap because it comes while composing, before any Python object is built; the tests
hold that (and where composing stopped) rather than a duration, which a busy machine stretches.
"""

from typing import Any
from unittest import mock

import pytest
from yaml.constructor import BaseConstructor

from hub.workplans import MAX_YAML_NODES, WorkplanError, parse_workplan

BOMB_LEVELS = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)),
]


def _refusal(text: str) -> tuple[WorkplanError, int]:
    """The refusal of `text`, and how many YAML documents were built into Python objects before it."""
    build = BaseConstructor.construct_document
    built: list[Any] = []

    def counting_build(constructor: BaseConstructor, node: Any) -> Any:
        built.append(node)
        return build(constructor, node)

    with (
        mock.patch.object(BaseConstructor, "construct_document", counting_build),
        pytest.raises(WorkplanError) as caught,
    ):
        parse_workplan(text.encode(), path="workplans/X.md")
    return caught.value, len(built)


def test_an_alias_bomb_in_the_front_matter_is_refused_at_its_first_anchor_before_anything_is_built():
    error, built = _refusal("\n".join(["---", "id: BOMB-WP-0001", *BOMB_LEVELS, "---", ""]))
    assert (error.line, error.message) == (3, "YAML anchors (&name) are not accepted")
    assert built == 0


def test_an_alias_in_a_task_block_is_refused_with_its_line():
    text = "---\nid: X-WP-0001\n---\n# X\n\n## Task T1: One\n```task\nid: X-WP-0001-T1\nassignee: *someone\n```\n"
    error, _ = _refusal(text)
    assert (error.line, error.message) == (9, "YAML aliases (*name) are not accepted")


def test_asterisks_and_ampersands_inside_strings_are_plain_text():
    spec = parse_workplan(b"---\nid: X-WP-0001\ntitle: '*bold* & more'\n---\n", path="X.md")
    assert spec.title == "*bold* & more"


def test_a_file_with_more_yaml_nodes_than_the_budget_is_refused_at_the_first_node_over_it_before_anything_is_built():
    items = "".join(f"  - {{a: {i}, b: c}}\n" for i in range(MAX_YAML_NODES // 2))
    error, built = _refusal(f"---\nid: X-WP-0001\nnotes:\n{items}---\n")
    assert error.message.startswith("too much YAML")
    # 5 nodes before the list (the document, `id` and its value, `notes` and its list), then 5 per item
    # from line 4 on: the node over the budget opens item (MAX_YAML_NODES - 5) // 5; the rest is never read.
    assert error.line == 4 + (MAX_YAML_NODES - 5) // 5
    assert built == 0


def test_the_node_budget_is_shared_by_the_front_matter_and_the_task_blocks():
    blocks = "".join(
        f"## Task T{n}: Task {n}\n```task\nid: X-WP-0001-T{n}\nnotes: [{', '.join(['x'] * 60)}]\n```\n"
        for n in range(MAX_YAML_NODES // 60)
    )
    error, _ = _refusal(f"---\nid: X-WP-0001\n---\n# X\n\n{blocks}")
    assert error.message.startswith("too much YAML")


@pytest.mark.parametrize("key", ["X/WP-0001", "X?1", "X#1", "a b", "..", ".hidden", "-x"])
def test_a_workplan_id_outside_the_url_safe_alphabet_is_a_file_error_on_its_line(key):
    error, _ = _refusal(f"---\nid: '{key}'\n---\n")
    assert error.line == 2 and error.message.startswith(f"workplan id {key!r}")
