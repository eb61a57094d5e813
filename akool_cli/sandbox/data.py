"""Fixed data of the sandbox, copied from the vendor's Image-to-Video page."""

from __future__ import annotations

# The vendor page's rate table. Kept apart from the CLI's own copy on purpose.
CREDITS = {
    ("720p", 5): 20, ("1080p", 5): 25, ("4k", 5): 30,
    ("720p", 10): 40, ("1080p", 10): 50, ("4k", 10): 60,
}
AUDIO_ONLY_CREDITS = {5: 5, 10: 10}

RESOLUTIONS = ("720p", "1080p", "4k")
VIDEO_LENGTHS = (5, 10)
AUDIO_TYPES = (1, 2, 3)

UID = 101400
TEAM_ID = "6805fb69e92d9edc7ca0b409"

_LORA = "https://static.website-files.org/assets/Image_to_Video/Lora/"


def _effect(_id: str, name: str, code: str, create_time: int = 1752576694502) -> dict:
    slug = name.replace(" ", "")
    return {"_id": _id, "create_time": create_time, "logo": f"{_LORA}{slug}.png", "name": name,
            "video_url": f"{_LORA}{slug}.mp4", "effect_code": code}


# The first three are the vendor page's example, field for field.
EFFECTS = [
    _effect("687632b95a0f52799eeed701", "Squish", "squish_89244231312"),
    _effect("687632ba5a0f52799eeed887", "Cakeify", "cakeify_24743216"),
    _effect("687632bc5a0f52799eeed929", "Samurai", "samurai_99757865"),
    _effect("687632bd5a0f52799eeed9a1", "Inflate", "inflate_51829374"),
    _effect("687632be5a0f52799eeeda13", "Melt", "melt_73920184"),
    _effect("687632bf5a0f52799eeeda88", "Crush", "crush_64019273"),
    _effect("687632c05a0f52799eeedb02", "Levitate", "levitate_38492017"),
    _effect("687632c15a0f52799eeedb77", "Explode", "explode_92837465"),
    _effect("687632c25a0f52799eeedbe9", "Dissolve", "dissolve_47382910"),
    _effect("687632c35a0f52799eeedc5d", "Cartoonify", "cartoonify_18273645"),
    _effect("687632c45a0f52799eeedcd0", "Sakura Bloom", "sakura_bloom_55029183"),
    _effect("687632c55a0f52799eeedd41", "Zoom Out", "zoom_out_90817263"),
]


# The model list (aigModel/list, type 1501). Field names from the vendor's model page and Akool's
# demo client; the models and prices are the sandbox's own, chosen to exercise a client: Akool's
# basic model prices like the vendor's rate table (unit_credit = credits per second of video),
# others offer 768p, 6 and 8 s, audio at a multiplier, a last frame, up to 10 variants, or are free.
def _model(value: str, label: str, provider: str, resolutions: list[tuple[str, int, int, float]],
           durations: list[int], *, pro: bool, max_count: int, last_frame: bool = False,
           audio_multiplier: float | None = None, audio_flag: bool = False, sort: int = 100,
           per_resolution: dict[str, list[int]] | None = None) -> dict:
    """`audio_flag`: generate_audio as a bare `true` (a third-party client's shape), not an object.
    `per_resolution`: durations offered at some resolutions only (a `durationList` inside the item)."""
    per_resolution = per_resolution or {}
    return {
        "sort": sort, "group": provider, "provider": provider, "type": 1501, "value": value, "name": value,
        "label": label, "description": f"{label} by {provider}", "isPro": pro, "requiresPay": pro,
        "resolutionList": [{"label": r, "value": r, "width": w, "height": h, "unit_credit": c,
                            **({"durationList": per_resolution[r]} if r in per_resolution else {})}
                           for r, w, h, c in resolutions],
        "durationList": durations,
        "generate_audio": True if audio_flag else None if audio_multiplier is None else
        {"required": False, "type": True, "default": False, "extra_credit_multiplier": audio_multiplier},
        "supportedLastFrame": last_frame, "supportedExtendPrompt": True, "maxImageCount": 2 if last_frame else 1,
        "maxCount": max_count,
    }


MODELS = [
    _model("AkoolImage2VideoFastV1", "Akool Basic", "akool",
           [("720p", 1280, 720, 4), ("1080p", 1920, 1080, 5), ("4k", 3840, 2160, 6)], [5, 10],
           pro=False, max_count=4, sort=100),
    _model("AkoolImage2VideoProV1", "Akool Pro", "akool",
           [("720p", 1280, 720, 6), ("1080p", 1920, 1080, 8), ("4k", 3840, 2160, 12)], [5, 10],
           pro=True, max_count=4, last_frame=True, audio_multiplier=1.5, sort=90),
    _model("kling-v2-1", "Kling 2.1", "kling", [("720p", 1280, 720, 20), ("1080p", 1920, 1080, 28)], [5, 10],
           pro=True, max_count=2, last_frame=True, sort=80),
    _model("seedance-1-0-lite", "Seedance 1.0 Lite", "seedance",
           [("480p", 854, 480, 3), ("768p", 1366, 768, 5), ("1080p", 1920, 1080, 9)], [5, 6, 8, 10],
           pro=False, max_count=10, audio_multiplier=2.0, sort=70),
    _model("hailuo-02", "Hailuo 02", "minimax", [("768p", 1366, 768, 8), ("1080p", 1920, 1080, 12)], [6, 10],
           pro=True, max_count=4, sort=60),
    _model("AkoolImage2VideoFree", "Akool Free", "akool", [("720p", 1280, 720, 0)], [5],
           pro=False, max_count=1, sort=50),
    # Shapes seen in public clients' model lists (akool-api-notes.md): a value with a slash and audio as a
    # bare boolean; upper-case resolution values; pixel-size values; durations per resolution.
    _model("alibaba/wan2.5-i2v-preview", "Wan 2.5 Preview", "alibaba",
           [("480p", 854, 480, 4), ("1080p", 1920, 1080, 10)], [5, 10], pro=False, max_count=1,
           audio_flag=True, sort=40),
    _model("doubao-seedance-1-0-lite-i2v-250428", "Doubao Lite 250428", "bytedance",
           [("768P", 1366, 768, 5), ("1080P", 1920, 1080, 9)], [5, 10], pro=False, max_count=2, sort=30),
    _model("pixverse-v4", "PixVerse V4", "pixverse", [("1280x720", 1280, 720, 6), ("720x1280", 720, 1280, 6)],
           [5, 8], pro=False, max_count=1, sort=20),
    _model("vidu-q1", "Vidu Q1", "vidu", [("720p", 1280, 720, 5), ("1080p", 1920, 1080, 8)], [4, 8],
           pro=False, max_count=1, per_resolution={"1080p": [4]}, sort=10),
]
DEFAULT_MODEL = "AkoolImage2VideoFastV1"
# What a create that does not fit the balance answers: undocumented by Akool; the sandbox's choice.
INSUFFICIENT_CREDIT_CODE = 1014
