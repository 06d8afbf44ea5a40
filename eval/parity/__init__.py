"""Parity with the original LongCat-Video: stored reference cases and live runs of a local checkout."""

from __future__ import annotations


def parity_rows(parity: list[dict]) -> list[dict]:
    """One row per (case, step) plus the final-latent and frame differences, for a W&B or CSV table."""
    rows = []
    for entry in parity:
        for step in entry["steps"]:
            rows.append(
                {
                    "case": entry["case"],
                    "mode": entry["mode"],
                    "quantity": f"latents_step{step['step']}",
                    "max_abs": step["max_abs"],
                    "mean_abs": step["mean_abs"],
                }
            )
        for quantity in ("final_latents", "video", "video_uint8"):
            if quantity in entry:
                rows.append({"case": entry["case"], "mode": entry["mode"], "quantity": quantity, **entry[quantity]})
    return rows
