from __future__ import annotations

import pytest

from cryptochat.errors import LocalProtocolError, RemoteProtocolError
from cryptochat.wire.framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame


def test_frame_has_big_endian_length_prefix() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"


def test_frames_reassemble_when_fed_one_byte_at_a_time() -> None:
    stream = encode_frame(b"first") + encode_frame(b"") + encode_frame(b"x" * 300)
    decoder = FrameDecoder()
    frames = [f for i in range(len(stream)) for f in decoder.feed(stream[i : i + 1])]
    assert frames == [b"first", b"", b"x" * 300]
    decoder.check_eof()


def test_lines_longer_than_the_seeds_256_bytes_stay_whole() -> None:
    body = bytes(range(256)) * 20  # zero bytes included: no C-string truncation either
    assert FrameDecoder().feed(encode_frame(body)) == [body]


def test_frame_at_the_maximum_is_accepted() -> None:
    body = b"m" * DEFAULT_MAX_FRAME
    assert FrameDecoder().feed(encode_frame(body)) == [body]


def test_oversize_length_is_a_remote_error_before_any_body_arrives() -> None:
    with pytest.raises(RemoteProtocolError, match="exceeds the maximum"):
        FrameDecoder(max_size=100).feed(b"\x00\x00\x00\x65")


def test_encoding_an_oversize_frame_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(b"x" * 11, max_size=10)


def test_eof_in_the_middle_of_a_frame_is_truncation() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"hello")[:-1])
    with pytest.raises(RemoteProtocolError, match="middle of a frame"):
        decoder.check_eof()


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(max_size=0)
