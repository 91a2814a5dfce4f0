"""hx.litellm.redact: the play's secrets masked by value, in any form a log carries them."""

from ansible_collections.hx.litellm.plugins.filter.redact import redact

KEY = "sk-0123456789abcdef0123"
PASSWORD = "pw-0123456789"


def test_every_form_of_each_secret_is_masked_and_the_rest_stays():
    text = ('Bearer %s {"redis_password": "%s"} redis://:%s@redis:6379/0 {\'password\': \'%s\'}'
            % (KEY, PASSWORD, PASSWORD, PASSWORD))
    assert redact(text, [KEY, PASSWORD]) == (
        'Bearer <redacted> {"redis_password": "<redacted>"} redis://:<redacted>@redis:6379/0 '
        "{'password': '<redacted>'}")


def test_a_secret_containing_another_is_masked_whole():
    assert redact("x %s-longer x" % PASSWORD, [PASSWORD, PASSWORD + "-longer"]) == "x <redacted> x"


def test_unset_secrets_change_nothing():
    assert redact("nothing to hide", ["", None]) == "nothing to hide"
    assert redact(None, [KEY]) == ""
