"""Argument checks written once (src/imagier/checks.py): the same message, naming the argument and the
reason, from every operation and every door that takes such an argument."""

import pytest

from imagier import checks
from imagier.errors import InvalidInput


@pytest.mark.parametrize("call, message", [
    (lambda: checks.whole_number("top_k", 0), "top_k must be a positive integer, not 0"),
    (lambda: checks.whole_number("top_k", True), "top_k must be a positive integer, not True"),
    (lambda: checks.whole_number("top_k", 2.5), "top_k must be a positive integer, not 2.5"),
    (lambda: checks.whole_number("min_cluster_size", 1, minimum=2), "min_cluster_size must be an integer of at least 2"),
    (lambda: checks.whole_number("batch_size", 2000, maximum=1024), "batch_size must be a positive integer and at most 1024"),
    (lambda: checks.number_between("min_score", 1.5, 0, 1, "a calibrated score"),
     "min_score must be a calibrated score between 0 and 1, not 1.5"),
    (lambda: checks.number_between("similarity", "high", -1, 1), "similarity must be a number between -1 and 1"),
    (lambda: checks.image_ids([1, "two"]), "image ids must be integers: ids holds 'two'"),
    (lambda: checks.image_ids(iter([1, None, 3])), "image ids must be integers: ids holds None"),
    (lambda: checks.image_ids("12"), "ids must be a list of image ids, not '12'"),
    (lambda: checks.image_ids(7, "query"), "query must be a list of image ids, not 7"),
    (lambda: checks.comma_separated_ids("ids", "1,x"), "ids must be comma-separated integers, not '1,x'"),
    (lambda: checks.non_empty_name("view", "  "), "a view needs a non-empty name"),
    (lambda: checks.non_empty_name("tag", None), "a tag needs a non-empty name, not None"),
])
def test_a_bad_argument_is_named_with_the_reason(call, message):
    with pytest.raises(InvalidInput) as refused:
        call()
    assert message in refused.value.message


def test_a_good_argument_is_returned_as_given():
    assert checks.whole_number("k", 3) == 3 and checks.number_between("x", -1, -1, 1) == -1
    assert checks.image_ids(["3", 4]) == [3, 4] and checks.comma_separated_ids("ids", "1, 2,") == [1, 2]
    assert checks.non_empty_name("property", " note ") == " note "


def test_every_operation_counting_results_refuses_the_same_way(embedded):
    for refuse in (lambda: embedded.similar(1, top_k=0), lambda: embedded.search("a cat", top_k=0),
                   lambda: embedded.suggestions("x", "y", top_k=0)):
        with pytest.raises(InvalidInput) as refused:
            refuse()
        assert refused.value.message == "top_k must be a positive integer, not 0 (top_k must be an integer, 1 or more)"
    with pytest.raises(InvalidInput, match="similarity must be a raw similarity between -1 and 1, not 3"):
        embedded.explain_similarity(3)
    embedded.create_property("caption", "text")
    with pytest.raises(InvalidInput, match="image ids must be integers: ids holds 'x'"):
        embedded.set_values("caption", [1, "x"], "a")
    with pytest.raises(InvalidInput, match="image ids must be integers: ids holds 'x'"):
        embedded.files([1, "x"])
