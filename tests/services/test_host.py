"""The model host core: loading, batched runs, per-request errors, LRU, hot swap, devices."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from services.errors import (DeviceUnavailableError, InvalidInputError, NotReadyError,
                             UnknownVersionError)
from services.host import HostConfig, HostRequest, LoadedVersion, ModelHost, StaticSource, Target
from services.protocol import Tensor
from tests.services.bundles import png_bytes
from zhijian_core.bundle.io import read_manifest
from zhijian_core.preprocess import build_preprocessor

PRODUCTION = Target(alias="production")


def raw(name: str, items: list[bytes]) -> tuple[Tensor, ...]:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return (Tensor(name, "BYTES", (len(items),), array, False),)


def request(inputs: tuple[Tensor, ...], target: Target = PRODUCTION,
            outputs: tuple[str, ...] | None = None) -> HostRequest:
    return HostRequest("rid", target, inputs, outputs)


def host_for(versions: dict, name: str, aliases: dict[str, int], **config) -> ModelHost:
    source = StaticSource({name: versions[name]}, {name: aliases})
    return ModelHost(name, source, HostConfig(**config))


def expected_probabilities(bundle: Path, images: list[bytes]) -> np.ndarray:
    """The image graph computed in numpy on the preprocessing module's tensors."""
    import onnx
    from onnx import numpy_helper

    manifest = read_manifest(bundle)
    pixels = build_preprocessor(manifest.io.preprocess, bundle)(images)["pixel_values"]
    weights = numpy_helper.to_array(onnx.load(str(bundle / "model.onnx")).graph.initializer[0])
    logits = pixels.mean(axis=(2, 3)) @ weights
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_raw_images_png_and_jpeg_answer_the_graph(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "images", {"production": 1})
        assert await host.sync() == {"production": 1}
        images = [png_bytes((10, 200, 30)), png_bytes((250, 250, 0), fmt="JPEG")]
        answer = await host.infer(request(raw("image", images)))
        assert answer.version == 1 and answer.task == "classification"
        assert answer.labels == ("cat", "dog")
        np.testing.assert_allclose(answer.outputs["probabilities"],
                                   expected_probabilities(versions["images"][1], images), atol=1e-6)
        assert list(answer.outputs) == ["probabilities", "logits"]
        only = await host.infer(request(raw("image", images), outputs=("logits",)))
        assert list(only.outputs) == ["logits"]
        await host.close()

    asyncio.run(main())


def test_one_session_run_per_batch_and_outputs_split_back(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "texts", {"production": 1})
        await host.sync()
        texts = [[b"good"], [b"the movie was awful", b"a great flight"], [b"bad bad bad bad bad"]]
        alone = [await host.infer(request(raw("text", t))) for t in texts]
        before = (await host.statistics())["model_stats"][0]["execution_count"]
        answers = await host.infer_batch([request(raw("text", t)) for t in texts])
        stats = (await host.statistics())["model_stats"][0]
        assert stats["execution_count"] == before + 1
        assert {b["batch_size"] for b in stats["batch_stats"]} >= {4}
        for single, batched in zip(alone, answers):
            assert batched.batch_items == 4
            np.testing.assert_allclose(batched.outputs["embedding"], single.outputs["embedding"],
                                       atol=1e-6)
        norms = np.linalg.norm(answers[1].outputs["embedding"], axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-6)
        await host.close()

    asyncio.run(main())


def test_bad_requests_in_a_batch_fail_alone(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "texts", {"production": 1})
        await host.sync()
        ids = np.array([[2, 999, 3]], dtype=np.int64)  # 999 is outside the embedding table
        bad_tensors = (Tensor("input_ids", "INT64", (1, 3), ids, True),
                       Tensor("attention_mask", "INT64", (1, 3), np.ones_like(ids), True))
        good_ids = np.array([[2, 4, 3]], dtype=np.int64)
        good_tensors = (Tensor("input_ids", "INT64", (1, 3), good_ids, True),
                        Tensor("attention_mask", "INT64", (1, 3), np.ones_like(good_ids), True))
        answers = await host.infer_batch([
            request(raw("text", [b"good"])), request(bad_tensors), request(good_tensors),
            request(raw("image", [b"x"])), request(raw("text", [b"x"]), Target(version=7))])
        assert answers[0].outputs["embedding"].shape == (1, 4)
        assert isinstance(answers[1], InvalidInputError) and "rejected" in str(answers[1])
        assert answers[2].outputs["embedding"].shape == (1, 4)
        assert isinstance(answers[3], InvalidInputError)
        assert isinstance(answers[4], UnknownVersionError)
        await host.close()

    asyncio.run(main())


def test_undecodable_image_is_invalid_input(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "images", {"production": 1})
        await host.sync()
        answers = await host.infer_batch([request(raw("image", [b"not an image"])),
                                          request(raw("image", [png_bytes()]))])
        assert isinstance(answers[0], InvalidInputError) and "cannot be decoded" in str(answers[0])
        assert answers[1].outputs["probabilities"].shape == (1, 2)
        await host.close()

    asyncio.run(main())


def test_five_versions_through_an_lru_of_two(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "images", {"production": 1}, lru_size=2)
        await host.sync()
        image = raw("image", [png_bytes()])
        for version in [2, 3, 2, 4, 5, 5, 3, 1, 2]:
            answer = await host.infer(request(image, Target(version=version)))
            assert answer.version == version
        counters = host.counters
        assert counters.cache_misses == 6 and counters.cache_hits == 2
        assert counters.evictions == 4 and counters.loads == 7
        assert len(host._lru) == 2
        with pytest.raises(UnknownVersionError):
            await host.infer(request(image, Target(version=9)))
        await host.close()

    asyncio.run(main())


def test_hot_swap_under_load_fails_no_request_and_releases_the_old(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "images", {"production": 1}, lru_size=0)
        await host.sync()
        old = host._aliased["production"]
        image = raw("image", [png_bytes()])
        seen: list[int] = []
        stop = asyncio.Event()

        async def client() -> None:
            while not stop.is_set():
                seen.append((await host.infer(request(image))).version)

        clients = [asyncio.ensure_future(client()) for _ in range(4)]
        await asyncio.sleep(0.05)
        await host.set_alias("production", 2)
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*clients)  # any failed request raises here
        assert seen[0] == 1 and seen[-1] == 2 and set(seen) == {1, 2}
        assert old.in_flight == 0 and old._session is None
        assert host.traffic() == {"production": 2} and host.counters.swaps == 2
        await host.close()

    asyncio.run(main())


def test_a_failed_swap_keeps_the_old_version_serving(versions: dict, tmp_path: Path) -> None:
    broken = tmp_path / "3"
    shutil.copytree(versions["images"][3], broken)
    (broken / "model.onnx").write_bytes((broken / "model.onnx").read_bytes() + b"x")

    async def main() -> None:
        source = StaticSource({"images": {1: versions["images"][1], 3: broken}},
                              {"images": {"production": 1}})
        host = ModelHost("images", source)
        await host.sync()
        source.alias_table["images"] = {"production": 3, "canary": 3}
        assert await host.sync() == {"production": 1}
        readiness = await host.readiness()
        assert readiness.ready
        assert (await host.infer(request(raw("image", [png_bytes()])))).version == 1
        with pytest.raises(NotReadyError, match="model.onnx"):
            await host.infer(request(raw("image", [png_bytes()]), Target(alias="canary")))
        await host.close()

    asyncio.run(main())


def test_cuda_without_cuda_is_not_ready_unless_cpu_fallback(versions: dict) -> None:
    async def main() -> None:
        strict = host_for(versions, "images", {"production": 1}, device="cuda")
        assert await strict.sync() == {}
        readiness = await strict.readiness()
        assert not readiness.ready
        assert "configured for CUDA" in readiness.reason and "allow_cpu_fallback" in readiness.reason
        with pytest.raises(DeviceUnavailableError):
            await strict.infer(request(raw("image", [png_bytes()])))
        lenient = host_for(versions, "images", {"production": 1}, device="cuda",
                           allow_cpu_fallback=True)
        await lenient.sync()
        assert (await lenient.readiness()).ready
        assert (await lenient.metadata()).parameters["device"] == "cpu"
        await lenient.close()

    asyncio.run(main())


def test_metadata_lists_the_raw_input_and_documents_tensors(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "texts", {"production": 2})
        await host.sync()
        metadata = await host.metadata()
        assert [i.model_dump() for i in metadata.inputs] == [
            {"name": "text", "datatype": "BYTES", "shape": [-1]}]
        assert metadata.versions == ["2"] and metadata.platform == "onnxruntime_onnx"
        assert [t["name"] for t in metadata.parameters["tensor_inputs"]] == ["input_ids",
                                                                             "attention_mask"]
        assert metadata.parameters["task"] == "embedding"
        assert (await host.metadata(1)).parameters["version"] == 1
        await host.close()

    asyncio.run(main())


def test_thread_count_and_load_verifies_digests(versions: dict, tmp_path: Path) -> None:
    assert HostConfig(cpus=2.5).intra_op_threads == 2 and HostConfig(cpus=0.25).intra_op_threads == 1
    with pytest.raises(ValueError):
        HostConfig(lru=3)
    tampered = tmp_path / "t"
    shutil.copytree(versions["texts"][1], tampered)
    with open(tampered / "tokenizer.json", "a") as handle:
        handle.write(" ")
    with pytest.raises(NotReadyError, match="tokenizer.json"):
        LoadedVersion.load("texts", 1, tampered, HostConfig())
    loaded = LoadedVersion.load("texts", 1, versions["texts"][1], HostConfig(cpus=2))
    assert loaded.device == "cpu" and loaded.load_seconds > 0


def test_a_cancelled_request_is_drained_before_its_version_is_released(versions: dict) -> None:
    async def main() -> None:
        host = host_for(versions, "images", {"production": 1}, lru_size=0)
        await host.sync()
        loaded = host._aliased["production"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(host.infer(request(raw("image", [png_bytes()] * 16))), 1e-4)
        await host.set_alias("production", 2)  # waits for the abandoned run, then releases
        assert loaded.in_flight == 0 and loaded._session is None
        assert (await host.infer(request(raw("image", [png_bytes()])))).version == 2
        await host.close()

    asyncio.run(main())


def test_the_host_is_a_host_client_and_its_messages_pickle(versions: dict) -> None:
    import pickle

    from services.host import HostClient

    async def main() -> None:
        host = host_for(versions, "texts", {"production": 1})
        assert isinstance(host, HostClient)
        await host.sync()
        call = request(raw("text", [b"good movie"]))
        answer = await host.infer(pickle.loads(pickle.dumps(call)))
        again = pickle.loads(pickle.dumps(answer))
        np.testing.assert_array_equal(again.outputs["embedding"], answer.outputs["embedding"])
        for value in (await host.readiness(), await host.metadata(), await host.statistics()):
            assert pickle.loads(pickle.dumps(value)) == value
        await host.close()

    asyncio.run(main())
