"""Which KV keys a template needs, read from small templates written here (mutation survivors).

The committed templates exercise the common case; these pin the edges: comments, optional
reads, the line a read is on, reads the check cannot verify, and the exact advice given.
"""

from __future__ import annotations

from pathlib import Path

from components.consul.template_keys import (
    KeyRead,
    kv_parity_errors,
    required_keys,
    template_coverage_errors,
    template_reads,
)

READ = '(print (env "KV_PREFIX") "/{}")'


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_carry_their_line_and_whether_rendering_needs_them(tmp_path: Path) -> None:
    path = write(tmp_path, "app.ctmpl", "\n".join([
        "a={{ key " + READ.format("db/host") + " }}",
        "{{/* key " + READ.format("in/comment") + " */}}",
        "b={{- keyOrDefault " + READ.format("db/port") + ' "5432" -}}',
        "c={{ if keyExists " + READ.format("feature/x") + " }}on{{ end }}",
    ]))
    reads, problems = template_reads(path)
    assert problems == []
    assert reads == [KeyRead("app.ctmpl", "db/host", 1, True),
                     KeyRead("app.ctmpl", "db/port", 3, False),
                     KeyRead("app.ctmpl", "feature/x", 4, False)]
    assert required_keys(tmp_path) == {"db/host"}


def test_reads_outside_the_prefix_or_of_computed_keys_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "x.ctmpl", '\n{{ key "shared/k" }}\n{{ ls (printf "%s" .x) }}')
    reads, problems = template_reads(path)
    assert reads == []
    assert problems == [
        'template x.ctmpl (line 2) reads KV key "shared/k" outside KV_PREFIX, so every stack '
        'would share it: read it as (print (env "KV_PREFIX") "/shared/k")',
        'template x.ctmpl (line 3) calls ls with a key the coverage check cannot read: use '
        '(print (env "KV_PREFIX") "/literal/key")',
    ]


def test_a_missing_required_key_is_reported_once_per_template(tmp_path: Path) -> None:
    write(tmp_path, "a.ctmpl", ("{{ key " + READ.format("k") + " }}\n") * 2
          + "{{ key " + READ.format("have") + " }}{{ keyOrDefault " + READ.format("opt")
          + ' "" }}')
    write(tmp_path, "notes.txt", "{{ key " + READ.format("ignored") + " }}")
    assert template_coverage_errors(tmp_path, {"have"}, "staging") == [
        "template a.ctmpl reads KV key 'k' (line 1) but stack 'staging' does not define it: "
        "add it under webtier:kv in Pulumi.staging.yaml (kv.values, or kv.secretKeys plus "
        "kvSecrets)"]


def test_a_directory_without_templates_is_an_error_not_a_pass(tmp_path: Path) -> None:
    assert template_coverage_errors(tmp_path, set(), "prod") == [
        f"no templates (*.ctmpl) in {tmp_path}: nothing to check the KV of stack 'prod' against"]


def test_parity_names_the_stacks_that_have_and_lack_a_key() -> None:
    errors = kv_parity_errors({"a": {"x", "y", "z"}, "b": {"x"}, "c": {"x", "y"}},
                              {"b": {"z"}})
    assert errors == ["KV key 'y' is defined in stack 'a', 'c' but not in 'b': define it in "
                      "every stack, or list it in kv.environmentSpecific"]
    assert kv_parity_errors({}, {}) == []
    assert kv_parity_errors({"a": {"x"}, "b": set()}, {}) == [
        "KV key 'x' is defined in stack 'a' but not in 'b': define it in every stack, or list "
        "it in kv.environmentSpecific"]
