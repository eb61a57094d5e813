"""The vendor's endpoints as the sandbox answers them: validation, business codes, job records."""

from __future__ import annotations

import re
import secrets
from typing import Any

from akool_cli.sandbox import data
from akool_cli.sandbox.state import SandboxState

ID_RE = re.compile(r"^[0-9a-f]{24}$")
MAX_UPLOAD = 50 * 1024 * 1024


def new_id() -> str:
    return secrets.token_hex(12)


class ApiFailure(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def require(condition: bool, msg: str, code: int = 1003) -> None:
    if not condition:
        raise ApiFailure(code, msg)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 10


def _ids(body: dict[str, Any]) -> list[str]:
    raw = body.get("_ids")
    if not isinstance(raw, str) or not raw.strip():
        raise ApiFailure(1003, "_ids is required: a comma-separated list of ids")
    ids = [part.strip() for part in raw.split(",")]
    require(all(ID_RE.match(i) for i in ids), "_ids must be comma-separated video ids (24 hex characters each)")
    return ids


class Api:
    """The vendor's endpoints. Each takes the JSON body and returns the envelope's `data`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.effects = {e["effect_code"]: e for e in data.EFFECTS}

    def check_auth(self, headers: Any) -> None:
        """Akool's docs: a non-empty Authorization header wins and x-api-key is then not looked at."""
        config = self.state.config
        key = headers.get("x-api-key")
        auth = (headers.get("Authorization") or "").strip()
        if auth:
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            with self.state.lock:
                require(bool(token) and token in self.state.tokens, "Invalid authorization or token has expired",
                        1101)
            return
        if key:
            require(secrets.compare_digest(key, config.api_key),
                    "Invalid API key" if config.bad_key_code == 1109 else "Invalid authorization", config.bad_key_code)
            return
        raise ApiFailure(1102, "Authorization cannot be empty")

    def token(self, body: dict[str, Any]) -> dict[str, Any]:
        config = self.state.config
        require(isinstance(body.get("clientId"), str) and isinstance(body.get("clientSecret"), str),
                 "clientId and clientSecret are required")
        require(body["clientId"] == config.client_id and body["clientSecret"] == config.client_secret,
                 "Invalid clientId or clientSecret", 1101)
        token = "sbx." + secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens.add(token)
            self.state.save()
        return {"token": token}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        require(_is_url(body.get("image_url")), "image_url is required and must be an http(s) URL")
        require(isinstance(body.get("prompt"), str) and body["prompt"].strip() != "", "prompt is required")
        require(isinstance(body.get("negative_prompt"), str), "negative_prompt is required and must be a string")
        require(body.get("resolution") in data.RESOLUTIONS, "resolution must be one of 720p, 1080p, 4k")
        require(_is_int(body.get("audio_type")) and body["audio_type"] in data.AUDIO_TYPES,
                 "audio_type must be 1 (AI generate), 2 (custom upload) or 3 (none)")
        require(_is_int(body.get("video_length")) and body["video_length"] in data.VIDEO_LENGTHS,
                 "video_length must be 5 or 10")
        for flag in ("extend_prompt", "is_premium_model"):
            require(body.get(flag) is None or isinstance(body[flag], bool), f"{flag} must be a boolean")
        audio_url = body.get("audio_url")
        require(audio_url is None or isinstance(audio_url, str), "audio_url must be a string")
        if body["audio_type"] == 2:
            require(_is_url(audio_url), "audio_url is required when audio_type = 2")
        code = body.get("effect_code")
        require(code is None or (isinstance(code, str) and code in self.effects),
                 f"effect_code {code!r} does not exist")
        webhook = body.get("webhookurl") or None  # "" is absent, as on the batch endpoint (clients send it)
        require(webhook is None or _is_url(webhook), "webhookurl must be an http(s) URL")
        if self.state.config.plan != "pro":
            require(body["video_length"] != 10, "10s videos are only available for pro and above", 1009)
            require(not body.get("is_premium_model"), "the premium model is only for pro and above", 1009)

        effect = self.effects.get(code) if code else None
        prompt = body["prompt"]
        job = {
            "create_time": self.state.now_ms(),
            "uid": data.UID,
            "team_id": data.TEAM_ID,
            "status": 1,
            "webhookUrl": webhook or "",
            "resolution": body["resolution"],
            "file_name": f"Image2Video_{prompt[:24]}.mp4",
            "effect_name": effect["name"] if effect else "",
            "_id": new_id(),
            "image_url": body["image_url"],
            "prompt": prompt,
            "negative_prompt": body["negative_prompt"],
            "extend_prompt": bool(body.get("extend_prompt", False)),
            "audio_type": body["audio_type"],
            "audio_url": audio_url or "",
            "deduction_credit": self._charge(data.CREDITS[(body["resolution"], body["video_length"])], 1, "create"),
            "effect_code": code or "",
        }
        return self._store(job, body["video_length"], only_audio=False)

    def _charge(self, price: float, count: int, endpoint: str) -> int:
        """The credits a job is charged (list price times the endpoint's multiplier), refused when they do not fit."""
        each = int(round(price * self.state.config.multiplier(endpoint)))
        left = self.state.credit()
        if each * count > left:
            raise ApiFailure(data.INSUFFICIENT_CREDIT_CODE,
                             f"insufficient credit: {each * count} needed, {left:g} left")
        return each

    def models(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        # Clients encode the array as types=1501, types[]=1501 or types[0]=1501 (percent-encoded or not).
        types = [v for key, values in query.items() if re.fullmatch(r"types(\[\d*\])?", key) for v in values]
        require(bool(types), "types is required (1501 Image to Video, 1502 Text to Video, 2101 Character Faceswap)")
        require(all(t in ("1501", "1502", "2101") for t in types), "types must be 1501, 1502 or 2101")
        return [dict(m) for m in data.MODELS] if "1501" in types else []

    def quota(self) -> dict[str, Any]:
        return {"credit": self.state.credit()}

    def create_batch(self, body: dict[str, Any], partial: bool = False) -> dict[str, Any]:
        """createBySourcePrompt/batch: one image, one model, `count` variants; partial success inside."""
        name = body.get("model_name", data.DEFAULT_MODEL)
        model = next((m for m in data.MODELS if m["value"] == name), None)
        require(model is not None, f"model_name {name!r} does not exist")
        assert model is not None
        require(_is_url(body.get("image_url")), "image_url is required and must be an http(s) URL")
        require(isinstance(body.get("prompt"), str) and body["prompt"].strip() != "", "prompt is required")
        offered = {r["value"]: r for r in model["resolutionList"]}
        require(body.get("resolution") in offered, f"resolution must be one of {', '.join(offered)} for {name}")
        lengths = offered[body["resolution"]].get("durationList") or model["durationList"]
        require(_is_int(body.get("video_length")) and body["video_length"] in lengths,
                f"video_length must be one of {lengths} for {name} at {body['resolution']}")
        count = body.get("count", 1)
        require(_is_int(count) and 1 <= count <= min(10, model["maxCount"]),
                f"count must be 1 to {min(10, model['maxCount'])} for {name}")
        last = body.get("last_image_url")
        require(last is None or (_is_url(last) and model["supportedLastFrame"]),
                f"last_image_url is not supported by {name}" if last is not None and not model["supportedLastFrame"]
                else "last_image_url must be an http(s) URL")
        audio = body.get("generate_audio")
        require(audio is None or isinstance(audio, bool), "generate_audio must be a boolean")
        require(not audio or model["generate_audio"] is not None, f"generate_audio is not supported by {name}")
        for key in ("negative_prompt", "webhookurl"):
            require(body.get(key) is None or isinstance(body[key], str), f"{key} must be a string")
        if model["isPro"] and self.state.config.plan != "pro":
            raise ApiFailure(1009, f"{model['label']} is only for pro and above")
        price = offered[body["resolution"]]["unit_credit"] * body["video_length"]
        if audio and isinstance(model["generate_audio"], dict):  # a bare `true` costs no more
            price *= model["generate_audio"]["extra_credit_multiplier"]
        made = count - 1 if partial and count > 1 else count
        each = self._charge(price, made, "create_batch")
        batch_id = new_id()
        success, errors = [], []
        for index in range(count):
            if index >= made:
                errors.append({"index": index, "code": 1015, "msg": "create video error, try again later"})
                continue
            job = {
                "create_time": self.state.now_ms(), "uid": data.UID, "team_id": data.TEAM_ID, "status": 1,
                "webhookUrl": body.get("webhookurl") or "", "resolution": body["resolution"],
                "file_name": f"Image2Video_{body['prompt'][:24]}.mp4", "_id": new_id(),
                "image_url": body["image_url"], "prompt": body["prompt"],
                "negative_prompt": body.get("negative_prompt") or "", "extend_prompt": bool(body.get("extend_prompt")),
                "deduction_credit": each, "model_name": name, "batch_id": batch_id, "batch_count": count,
            }
            success.append(self._store(job, body["video_length"], only_audio=False))
        return {"successList": success, "errorList": errors}

    def _store(self, job: dict[str, Any], length: int, only_audio: bool) -> dict[str, Any]:
        response = dict(job)
        job["only_add_audio"] = only_audio
        job["_sandbox"] = {"length": length, "fail": self.state.take_fail_job(), "deleted": False,
                           "notified": []}
        with self.state.lock:
            self.state.jobs[job["_id"]] = job
            self.state.count_charge(job)
            self.state.save_job(job)
        return response

    def results(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = _ids(body)
        config = self.state.config
        if config.results_refuse_over and len(ids) > config.results_refuse_over:
            raise ApiFailure(1003, f"_ids: at most {config.results_refuse_over} ids a request")
        with self.state.lock:
            found = [self.state.jobs.get(i) for i in ids]
            result = [self.state.view(j) for j in found if j and not j["_sandbox"]["deleted"]]
        return {"result": result[:config.results_cap] if config.results_cap else result}

    def effects_list(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"result": [dict(e) for e in data.EFFECTS], "count": len(data.EFFECTS)}

    def add_audio(self, body: dict[str, Any]) -> dict[str, Any]:
        pre_id = body.get("pre_video_id")
        if not isinstance(pre_id, str) or not pre_id:
            raise ApiFailure(1003, "pre_video_id is required")
        require(_is_int(body.get("audio_type")) and body["audio_type"] in (1, 2),
                 "audio_type must be 1 (AI generate) or 2 (custom upload)")
        audio_url = body.get("audio_url")
        # The vendor's table marks audio_url required (its description: "when audio_type = 2"):
        # as strict as the table, it must be present, a string; a URL when audio_type = 2.
        require(isinstance(audio_url, str), "audio_url is required")
        if body["audio_type"] == 2:
            require(_is_url(audio_url), "audio_url is required when audio_type = 2")
        with self.state.lock:
            original = self.state.jobs.get(pre_id)
            if original is None or original["_sandbox"]["deleted"]:
                raise ApiFailure(1008, "the video does not exist")
            require(self.state.status_of(original) == 3, "the video is not completed yet")
        length = original["_sandbox"]["length"]
        job = {
            "create_time": self.state.now_ms(),
            "uid": data.UID,
            "team_id": data.TEAM_ID,
            "update_time": self.state.now_ms(),
            "video_duration": 10.063 if length == 10 else 5.063,
            "webhookUrl": original["webhookUrl"],
            "resolution": original["resolution"],
            "file_name": original["file_name"],
            "effect_name": original.get("effect_name", ""),
            "_id": new_id(),
            "pre_video_id": pre_id,
            "image_url": original["image_url"],
            "prompt": original["prompt"],
            "negative_prompt": original["negative_prompt"],
            "extend_prompt": original["extend_prompt"],
            "audio_type": body["audio_type"],
            "audio_url": audio_url or "",
            "deduction_credit": self._charge(data.AUDIO_ONLY_CREDITS.get(length, 10 if length > 7 else 5), 1,
                                             "add_audio"),
            "effect_code": original.get("effect_code", ""),
            "status": 1,
            "only_add_audio": True,
        }
        return self._store(job, length, only_audio=True)

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = _ids(body)
        deleted: list[str] = []
        refused: list[dict[str, str]] = []
        with self.state.lock:
            for job_id in ids:
                job = self.state.jobs.get(job_id)
                if job is None or job["_sandbox"]["deleted"]:
                    refused.append({"_id": job_id, "msg": "video resource does not exist"})
                elif self.state.status_of(job) in (1, 2):
                    refused.append({"_id": job_id, "msg": "video resource is processing, please try again later"})
                else:
                    job["_sandbox"]["deleted"] = True
                    deleted.append(job_id)
            self.state.save()
        return {"successIds": deleted, "noPermissionItems": refused}

    def upload(self, body: bytes, filename: str) -> dict[str, Any]:
        require(0 < len(body) <= MAX_UPLOAD, f"upload must be 1 byte to {MAX_UPLOAD} bytes")
        name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-80:].lstrip(".") or "upload.bin"
        key = f"{secrets.token_hex(8)}/{name}"
        folder = self.state.upload_dir()
        if folder:
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            (folder / key).write_bytes(body)
        else:
            with self.state.lock:
                self.state.uploads[key] = body
        return {"url": f"{self.state.base_url}/_sandbox/files/{key}"}
