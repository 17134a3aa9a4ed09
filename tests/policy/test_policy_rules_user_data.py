"""The user-data reader and the secrets rule called directly: how far encodings are unwrapped
(base64, gzip, MIME), which properties are read, and the line each finding names."""

from __future__ import annotations

import base64
import gzip
from typing import Any

from policy.rules import (
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    MAX_USER_DATA_BYTES,
    no_secrets_in_user_data,
    secrets_in_text,
    user_data_texts,
)

SCRIPT = "#!/bin/bash\necho start\nDB_PASSWORD=hunter2\n"
ASSIGNMENT = "a password, token or secret assignment"


def b64(data: str | bytes, times: int = 1) -> str:
    raw = data.encode() if isinstance(data, str) else data
    for _ in range(times):
        raw = base64.b64encode(raw)
    return raw.decode()


def finding(key: str, line: int, kind: str = ASSIGNMENT) -> str:
    return (f"{key} line {line} holds what looks like {kind} (value withheld): fetch it at boot "
            "from an SSM SecureString parameter")


def mime(*parts: tuple[str, str], first_header: str = "Content-Type") -> str:
    """A cloud-init multipart document; each part is (transfer encoding, body)."""
    head = {"Content-Type": 'Content-Type: multipart/mixed; boundary="XX"\nMIME-Version: 1.0\n',
            "MIME-Version": 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n'}
    body = "".join(f"--XX\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: {enc}\n\n"
                   f"{text}\n" for enc, text in parts)
    return f"{head[first_header]}\n{body}--XX--\n"


def test_user_data_texts_reads_both_properties_and_skips_empty_ones() -> None:
    assert user_data_texts({"userData": "", "userDataBase64": b64(SCRIPT)}) == [
        ("userDataBase64", SCRIPT)]
    assert user_data_texts({"userData": SCRIPT, "userDataBase64": None}) == [("userData", SCRIPT)]


def test_base64_wrapped_over_lines_is_joined_before_decoding() -> None:
    encoded = b64(SCRIPT)
    wrapped = "\n".join(encoded[i:i + 8] for i in range(0, len(encoded), 8))
    assert user_data_texts({"userData": wrapped}) == [("userData", SCRIPT)]


def test_up_to_three_nested_base64_layers_are_undone() -> None:
    for times in (1, 2, 3):
        assert user_data_texts({"userData": b64(SCRIPT, times)}) == [("userData", SCRIPT)], times
    # Deeper nesting is not unwrapped: the reader's work is bounded.
    assert user_data_texts({"userData": b64(SCRIPT, 4)}) == []


def test_gzip_output_stops_at_the_user_data_cap() -> None:
    filler = b"#" * MAX_USER_DATA_BYTES
    text = user_data_texts({"userData": b64(gzip.compress(filler + b"\nDB_PASSWORD=x\n"))})
    assert text == [("userData", filler.decode())]


def test_mime_parts_are_opened_whichever_header_comes_first() -> None:
    for first in ("Content-Type", "MIME-Version"):
        document = mime(("7bit", "#!/bin/sh\necho one"), ("base64", b64(SCRIPT)),
                        first_header=first)
        texts = [text for _, text in user_data_texts({"userData": document})]
        assert texts[1:] == ["#!/bin/sh\necho one", SCRIPT], first
        assert texts[0] == document


def test_mime_after_leading_blank_lines_is_still_opened() -> None:
    document = "\n  \n" + mime(("base64", b64(SCRIPT)))
    texts = [text for _, text in user_data_texts({"userData": document})]
    assert SCRIPT in texts


def test_mime_part_nesting_counts_towards_the_three_layer_bound() -> None:
    # The MIME document is layer one and its part's transfer encoding is undone by the parser.
    two_more = mime(("base64", b64(SCRIPT, 3)))
    assert [t for _, t in user_data_texts({"userData": two_more})][1:] == [SCRIPT]
    three_more = mime(("base64", b64(SCRIPT, 4)))
    assert [t for _, t in user_data_texts({"userData": three_more})][1:] == []


def test_mime_part_with_invalid_utf8_is_still_scanned() -> None:
    body = b"#!/bin/sh\n\xff\xfe\nAPI_TOKEN=abc123\n"
    document = mime(("base64", base64.b64encode(body).decode()))
    assert no_secrets_in_user_data(LAUNCH_TEMPLATE, {"userData": document}) == [
        finding("userData", 3)]


def test_line_numbers_count_from_one_at_the_start_of_the_text() -> None:
    assert secrets_in_text("\nDB_PASSWORD=hunter2") == [(2, ASSIGNMENT)]
    assert secrets_in_text("DB_PASSWORD=hunter2") == [(1, ASSIGNMENT)]


def test_secrets_rule_reads_the_second_property_after_an_empty_first() -> None:
    props: dict[str, Any] = {"userData": "", "userDataBase64": b64(SCRIPT)}
    assert no_secrets_in_user_data(LAUNCH_CONFIGURATION, props) == [finding("userDataBase64", 3)]


def test_secrets_rule_ignores_user_data_that_is_not_text() -> None:
    assert no_secrets_in_user_data(LAUNCH_TEMPLATE, {"userData": 12.0}) == []


def test_base64_of_a_length_not_a_multiple_of_four_is_scanned_as_given() -> None:
    encoded = b64("PASSWORD=x12") + "=="
    assert user_data_texts({"userData": encoded}) == [("userData", encoded)]


def test_a_corrupt_gzip_part_does_not_hide_the_parts_after_it() -> None:
    # cloud-init multipart: a broken gzip part is skipped, and the scan goes on to the next one.
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    message = MIMEMultipart()
    message.attach(MIMEApplication(b"\x1f\x8b" + b"not gzip at all", "gzip"))
    message.attach(MIMEText(SCRIPT, "x-shellscript", "utf-8"))  # base64: readable only as a part
    assert no_secrets_in_user_data(LAUNCH_TEMPLATE, {"userData": b64(message.as_string())}) == [
        finding("userData", 3)]
