"""`statehub.search.search_terms`: the one rule for what a search may ask (API `?search=`, admin `?q=`)."""

import pytest

from statehub.search import SEARCH_MAX_TERMS, SEARCH_MIN_TERM_LENGTH, InvalidSearch, search_terms


def test_terms_split_on_spaces_and_commas_and_a_quoted_phrase_stays_one_term() -> None:
    assert search_terms('rotate keys,broker "state hub" CUST-WP-0040') == [
        "rotate",
        "keys",
        "broker",
        "state hub",
        "CUST-WP-0040",
    ]


def test_a_blank_search_has_no_terms() -> None:
    assert search_terms("") == []
    assert search_terms("   ") == []


def test_the_limits_are_eight_terms_of_three_letters_or_digits() -> None:
    assert (SEARCH_MAX_TERMS, SEARCH_MIN_TERM_LENGTH) == (8, 3)
    assert len(search_terms(" ".join(f"term{n}" for n in range(8)))) == 8


def test_more_terms_than_the_limit_are_refused_naming_the_limit_and_the_count() -> None:
    with pytest.raises(InvalidSearch) as refused:
        search_terms(" ".join(["a"] * 1900))

    assert refused.value.errors == {
        "search": ["A search takes at most 8 terms (separated by spaces or commas); this one has 1900."]
    }


@pytest.mark.parametrize("term", ["ab", "T5", "--", "a-b", "a_b_c", "é.", '"ab"', '"'])
def test_a_term_without_three_letters_or_digits_in_a_row_is_refused(term: str) -> None:
    with pytest.raises(InvalidSearch) as refused:
        search_terms(f"rotate {term}")

    assert "at least 3 letters or digits" in refused.value.message


@pytest.mark.parametrize("term", ["abc", "T05", "WP-0040", "état", "日本語", "x-abc-y"])
def test_a_term_with_three_letters_or_digits_in_a_row_is_accepted(term: str) -> None:
    assert search_terms(term) == [term]


def test_a_search_that_is_not_blank_but_holds_no_term_is_refused() -> None:
    with pytest.raises(InvalidSearch):
        search_terms(", ,,")


def test_a_nul_is_refused_and_the_error_names_the_parameter_it_came_in() -> None:
    with pytest.raises(InvalidSearch) as refused:
        search_terms("abc\x00def", parameter="q")

    assert list(refused.value.errors) == ["q"]
    assert refused.value.code == "invalid_search"
