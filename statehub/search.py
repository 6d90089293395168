"""What a search may ask: the one rule the API's `?search=` and every admin changelist's `?q=` apply.

A search is `UPPER(field) LIKE UPPER('%term%')` for each term, on every field the list searches
(ANDed over terms). On the large tables those expressions have trigram indexes (`pg_trgm`), and a
trigram index finds a term only by the runs of three letters or digits in it: a term without one
("ab", "--", "a-b") makes PostgreSQL read every row, and each further term costs another pass over
them (1,900 one-letter terms held a worker for 6.3 s on 100,000 tasks). So a search takes at most
`SEARCH_MAX_TERMS` terms, each with `SEARCH_MIN_TERM_LENGTH` letters or digits in a row, and
anything else is refused before the database sees it, naming the limit.

Terms are split as DRF's `SearchFilter` splits them (spaces and commas; a quoted phrase is one
term). Django's admin splits on spaces only, so each of its terms holds one or more of these:
checking these bounds the admin's search as well.
"""

import re
from collections.abc import Iterator

from django.utils.text import smart_split, unescape_string_literal

from statehub.errors import ServiceError

SEARCH_MAX_TERMS = 8
# A trigram is three characters: the shortest run of letters or digits a trigram index can find.
SEARCH_MIN_TERM_LENGTH = 3
_INDEXABLE_RUN = re.compile(rf"[^\W_]{{{SEARCH_MIN_TERM_LENGTH}}}")


class InvalidSearch(ServiceError):
    """A search the hub will not run: too many terms, a term too short for the search index, a NUL."""

    code = "invalid_search"


def _split(raw: str) -> Iterator[str]:
    for token in smart_split(raw):
        token = token.strip(",")
        if token.startswith(('"', "'")) and len(token) > 1 and token[0] == token[-1]:
            yield unescape_string_literal(token)
        else:
            yield from (part.strip() for part in token.split(",") if part.strip())


def search_terms(raw: str, *, parameter: str = "search") -> list[str]:
    """The terms of a search, or `InvalidSearch` naming `parameter` and the limit it breaks.

    A blank search has no terms (the list is not filtered). A search that is not blank but holds
    no term (",,,") is refused: it would otherwise read as "no search" to one door and as a search
    for commas to another.
    """
    if "\x00" in raw:
        raise InvalidSearch("A search cannot contain a NUL character.", field=parameter)
    terms = list(_split(raw))
    if len(terms) > SEARCH_MAX_TERMS:
        raise InvalidSearch(
            f"A search takes at most {SEARCH_MAX_TERMS} terms (separated by spaces or commas); "
            f"this one has {len(terms)}.",
            field=parameter,
        )
    if raw.strip() and not terms:
        raise InvalidSearch(
            f"A search needs a term of at least {SEARCH_MIN_TERM_LENGTH} letters or digits.", field=parameter
        )
    short = [term for term in terms if not _INDEXABLE_RUN.search(term)]
    if short:
        raise InvalidSearch(
            f"Each search term needs at least {SEARCH_MIN_TERM_LENGTH} letters or digits in a row (shorter ones "
            f"cannot use the search index); {', '.join(repr(term) for term in short[:3])} "
            f"{'has' if len(short) == 1 else 'have'} fewer.",
            field=parameter,
        )
    return terms
