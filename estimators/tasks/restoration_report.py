"""The evaluation report of an image restoration: PSNR, SSIM and MSE beside the baseline's, and sample rows.

The baseline is what the corrupted input gives without a model (bicubic
upsampling for super-resolution, the noisy image for denoising). A model that
does not beat it has learnt nothing, so the report always prints both.
``samples.png`` shows a few images: input, baseline, model and clean.
"""

from __future__ import annotations

import dataclasses
import html

import numpy as np

from estimators.reports.page import Figure, Table, evaluation_summary, png_bytes, pyplot, write_report_page

SAMPLES_PNG = "samples.png"
FIGURE = Figure("input, baseline, model and clean", SAMPLES_PNG, height=600)
SAMPLES = 4


@dataclasses.dataclass(frozen=True)
class RestorationReport:
    task: str
    split: str
    examples: int
    baseline: str  # what the baseline is
    psnr: float  # dB, the mean over images
    ssim: float
    mse: float  # pixels in [0, 1]
    baseline_psnr: float
    baseline_ssim: float
    baseline_mse: float
    # Per image, in the report role's order: the model's PSNR and the baseline's.
    image_psnr: tuple[float, ...] = ()
    image_baseline_psnr: tuple[float, ...] = ()

    @property
    def gain_db(self) -> float:
        return self.psnr - self.baseline_psnr

    @property
    def share_better(self) -> float:
        """The share of images the model restores better (higher PSNR) than the baseline."""
        pairs = list(zip(self.image_psnr, self.image_baseline_psnr, strict=True))
        return sum(m > b for m, b in pairs) / max(1, len(pairs))

    def metrics(self) -> dict[str, float]:
        return {"psnr": self.psnr, "ssim": self.ssim, "mse": self.mse}

    def format(self) -> str:
        return "\n".join(
            (
                f"evaluation on '{self.split}': PSNR {self.psnr:.2f} dB, SSIM {self.ssim:.4f}, MSE {self.mse:.5f} "
                f"over {self.examples} images",
                f"baseline ({self.baseline}): PSNR {self.baseline_psnr:.2f} dB, SSIM {self.baseline_ssim:.4f}, "
                f"MSE {self.baseline_mse:.5f}",
                f"the model gains {self.gain_db:+.2f} dB over the baseline, and beats it on "
                f"{self.share_better:.0%} of the images",
            )
        )


def build_report(task: str, split: str, baseline: str, model: np.ndarray, base: np.ndarray) -> RestorationReport:
    """``model`` and ``base``: [3, images] of PSNR, SSIM and MSE per image (the model's, the baseline's)."""
    finite = lambda v: np.where(np.isfinite(v), v, 100.0)  # noqa: E731  (a perfect image: PSNR infinite)
    return RestorationReport(
        task=task,
        split=split,
        examples=int(model.shape[1]),
        baseline=baseline,
        psnr=float(finite(model[0]).mean()),
        ssim=float(model[1].mean()),
        mse=float(model[2].mean()),
        baseline_psnr=float(finite(base[0]).mean()),
        baseline_ssim=float(base[1].mean()),
        baseline_mse=float(base[2].mean()),
        image_psnr=tuple(round(float(v), 3) for v in finite(model[0])),
        image_baseline_psnr=tuple(round(float(v), 3) for v in finite(base[0])),
    )


def write_report(report: RestorationReport, directory: str, samples: tuple[np.ndarray, ...] | None) -> str:
    """report.json and samples.png (``samples``: input, baseline, model, clean images in [0, 1]); returns directory."""
    return FIGURE.write_files(directory, report, None if samples is None else samples_png(report, samples))


def samples_png(report: RestorationReport, samples: tuple[np.ndarray, ...]) -> bytes:
    plt = pyplot()
    titles = ("input", report.baseline, "model", "clean")
    rows = len(samples[0])
    fig, axes = plt.subplots(rows, 4, figsize=(10, 2.6 * rows), squeeze=False)
    for row in range(rows):
        for ax, images, title in zip(axes[row], samples, titles, strict=True):
            image = images[row] if images.shape[-1] == 3 else images[row][..., 0]
            ax.imshow(image, cmap=None if image.ndim == 3 else "gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{title} {image.shape[1]}x{image.shape[0]}", fontsize=9)
            ax.axis("off")
    fig.suptitle(
        f"{report.split}: PSNR {report.psnr:.2f} dB (baseline {report.baseline_psnr:.2f}), SSIM {report.ssim:.3f}"
    )
    return png_bytes(fig, dpi=90)


def write_html(report: RestorationReport, directory: str, title: str) -> str:
    """report.html: the figures beside the baseline's, the learning curves and the sample images."""
    table = Table(
        "model and baseline",
        ("", "PSNR (dB)", "SSIM", "MSE"),
        (
            ("model", f"{report.psnr:.2f}", f"{report.ssim:.4f}", f"{report.mse:.5f}"),
            (
                report.baseline,
                f"{report.baseline_psnr:.2f}",
                f"{report.baseline_ssim:.4f}",
                f"{report.baseline_mse:.5f}",
            ),
        ),
    )
    summary = evaluation_summary(
        report.split,
        f"PSNR <b>{report.psnr:.2f} dB</b> ({report.gain_db:+.2f} dB over {html.escape(report.baseline)}), "
        f"SSIM {report.ssim:.4f} over {report.examples} images",
    )
    return write_report_page(directory, title, summary, FIGURE, table=table)
