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
