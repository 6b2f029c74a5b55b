"""Scene and result manifests: round trips, strict refusal of malformed documents, the sealed envelope."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addon.farm.errors import AuthorizationError, IntegrityError, ManifestError
from addon.farm.manifest import (
    FrameRange,
    Preview,
    RenderSettings,
    ResultFrame,
    ResultManifest,
    SceneFile,
    SceneManifest,
    check_package_path,
    open_own_scene_manifest,
    open_scene_manifest,
    resolve_in,
    seal_scene_manifest,
)
from addon.stacks import keys

H = "ab" * 32


def _keys():
    key = keys.make_private_key()
    return key, keys.address_from_private_key(key, "testnet"), keys.public_key_from_private_key(key)


REQUESTER, PROVIDER, STRANGER = _keys(), _keys(), _keys()


def scene(**changes) -> SceneManifest:
    fields = dict(requester=REQUESTER[1], provider=PROVIDER[1], blender_version="5.0.1", main_blend="shot.blend",
                  frames=FrameRange(1, 24), render=RenderSettings(samples=16),
                  files=[SceneFile("shot.blend", H, H, H, 1234), SceneFile("textures/wood é.png", "cd" * 32, H, H, 0)])
    fields.update(changes)
    return SceneManifest(**fields)


def result(**changes) -> ResultManifest:
    fields = dict(job_id=7, frames=[ResultFrame(1, H, H, 99, ".png"), ResultFrame(2, "cd" * 32, H, 0, ".exr")],
                  previews=[Preview(1, "p1"), Preview(2, "p2")])
    fields.update(changes)
    return ResultManifest(**fields)


def test_round_trips_are_exact():
    for document in (scene(), result()):
        data = document.to_bytes()
        again = type(document).from_bytes(data)
        assert again == document and again.to_bytes() == data
    assert scene().frames.frames() == list(range(1, 25))
    assert FrameRange(1, 10, 3).frames() == [1, 4, 7, 10]


def _mutated(document, mutate) -> bytes:
    obj = json.loads(document.to_bytes())
    mutate(obj)
    return json.dumps(obj).encode()


@pytest.mark.parametrize("mutate, says", [
    (lambda o: o.update(version=2), "version 2 is not supported"),
    (lambda o: o.update(format="render-farm/other"), "format is"),
    (lambda o: o.pop("frames"), "lacks field(s) ['frames']"),
    (lambda o: o.update(extra=1), "unknown field(s) ['extra']"),
    (lambda o: o["frames"].update(start="1"), "manifest.frames.start must be an integer"),
    (lambda o: o["frames"].update(start=True), "manifest.frames.start must be an integer"),
    (lambda o: o["frames"].update(start=9, end=3), "0 <= start <= end"),
    (lambda o: o["files"][0].update(size=1.5), "manifest.files[0].size must be an integer"),
    (lambda o: o["files"][1].update(blob="XY" * 32), "manifest.files[1].blob must be 64 lower-case hex"),
    (lambda o: o["files"][1].update(path="../../etc/passwd"), "leaves the package"),
    (lambda o: o["files"][1].update(path="/etc/passwd"), "absolute"),
    (lambda o: o["files"][1].update(path="C:/x.png"), "absolute"),
    (lambda o: o["files"][1].update(path="a\\..\\b"), "absolute"),
    (lambda o: o["files"][1].update(path="a//b"), "leaves the package"),
    (lambda o: o["files"][1].update(path="shot.blend"), "twice"),
    (lambda o: o.update(main_blend="other.blend"), "not among the files"),
    (lambda o: o.update(requester="not-an-address"), "not a Stacks address"),
    (lambda o: o.update(blender_version="latest"), "blender_version"),
    (lambda o: o["render"].update(resolution_percentage=0), "resolution is out of range"),
    (lambda o: o["render"].update(samples=0), "samples must be at least 1"),
    (lambda o: o.update(files={}), "manifest.files must be a list"),
])
def test_malformed_scene_manifests_are_refused_by_name(mutate, says):
    with pytest.raises(ManifestError) as error:
        SceneManifest.from_bytes(_mutated(scene(), mutate))
    assert says in str(error.value)


@pytest.mark.parametrize("mutate, says", [
    (lambda o: o["frames"].append(o["frames"][0]), "lists a frame twice"),
    (lambda o: o["frames"][0].update(extension="png"), "bad size or extension"),
    (lambda o: o["previews"][0].update(name="../p"), "not a safe name"),
    (lambda o: o.update(job_id=-1), "job_id is negative"),
    (lambda o: o.pop("previews"), "lacks field(s) ['previews']"),
])
def test_malformed_result_manifests_are_refused_by_name(mutate, says):
    with pytest.raises(ManifestError) as error:
        ResultManifest.from_bytes(_mutated(result(), mutate))
    assert says in str(error.value)


@pytest.mark.parametrize("data", [b"", b"[]", b"null", b"{", b"\xff\xfe", b'{"format": 1}', b"1" * 100])
def test_non_documents_are_refused(data):
    with pytest.raises(ManifestError):
        SceneManifest.from_bytes(data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzzed_documents_give_a_manifest_error_or_a_valid_manifest(data):
    """Random byte edits and random JSON values in random places: never another exception."""
    for original in (scene(), result()):
        raw = bytearray(original.to_bytes())
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        obj = json.loads(original.to_bytes())
        key = data.draw(st.sampled_from(sorted(obj)))
        obj[key] = data.draw(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                                          lambda kids: st.lists(kids, max_size=3)
                                          | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=6))
        for candidate in (bytes(raw), json.dumps(obj).encode()):
            try:
                decoded = type(original).from_bytes(candidate)
            except ManifestError:
                continue
            assert type(decoded).from_bytes(decoded.to_bytes()) == decoded


def test_package_paths_stay_inside_the_job(tmp_path):
    assert check_package_path("a/b c/ü.png") == "a/b c/ü.png"
    assert resolve_in(tmp_path, "a/b.png") == (tmp_path / "a" / "b.png").resolve()
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(ManifestError, match="outside the job directory"):
        resolve_in(tmp_path, "link/passwd")
    for bad in ["", "..", "a/../../b", "/abs", "a\x00b", "tab\there", "x" * 2000]:
        with pytest.raises(ManifestError):
            check_package_path(bad)


def test_the_envelope_opens_only_for_its_provider_and_only_from_the_requester():
    manifest = scene()
    envelope = seal_scene_manifest(manifest, REQUESTER[0], PROVIDER[2])
    assert envelope[:4] == b"RFSM"
    assert open_scene_manifest(envelope, PROVIDER[0], REQUESTER[1]) == manifest
    assert open_own_scene_manifest(envelope, REQUESTER[0], PROVIDER[2]) == manifest
    # Another provider cannot read it.
    with pytest.raises(IntegrityError, match="sealed for another provider or altered"):
        open_scene_manifest(envelope, STRANGER[0], REQUESTER[1])
    # A manifest sealed by someone else than the job's requester on chain is refused.
    forged = seal_scene_manifest(manifest, STRANGER[0], PROVIDER[2])
    with pytest.raises(AuthorizationError, match="not by the job's requester"):
        open_scene_manifest(forged, PROVIDER[0], REQUESTER[1])
    # One flipped bit anywhere after the header fails authentication.
    tampered = bytearray(envelope)
    tampered[-5] ^= 1
    with pytest.raises(IntegrityError):
        open_scene_manifest(bytes(tampered), PROVIDER[0], REQUESTER[1])
    for broken in (b"", b"RFSM", b"XXXX" + envelope[4:], envelope[:4] + b"\x09" + envelope[5:]):
        with pytest.raises(ManifestError):
            open_scene_manifest(broken, PROVIDER[0], REQUESTER[1])


def test_each_seal_uses_a_fresh_salt_fixed_before_any_job_id():
    one = seal_scene_manifest(scene(), REQUESTER[0], PROVIDER[2])
    two = seal_scene_manifest(scene(), REQUESTER[0], PROVIDER[2])
    assert one != two  # two submissions of the same scene never share a key
    salt = bytes(range(32))
    assert seal_scene_manifest(scene(), REQUESTER[0], PROVIDER[2], salt)[38:70] == salt
