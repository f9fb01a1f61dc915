"""Cost–quality curves as terminal text and as a standalone SVG file (no plotting library needed)."""

from __future__ import annotations

from html import escape

Series = tuple[str, list[tuple[float, float]]]  # (label, [(cost, quality)])
MARKS = "●○■□▲△"
COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2"]


def _bounds(series: list[Series]) -> tuple[float, float, float, float]:
    xs = [x for _, points in series for x, _ in points] or [0.0, 1.0]
    ys = [y for _, points in series for _, y in points] or [0.0, 1.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return x0, (x1 if x1 > x0 else x0 + 1), y0, (y1 if y1 > y0 else y0 + 1)


def terminal_plot(series: list[Series], width: int = 64, height: int = 16) -> str:
    x0, x1, y0, y1 = _bounds(series)
    grid = [[" "] * width for _ in range(height)]
    for index, (_, points) in enumerate(series):
        for x, y in points:
            col = round((x - x0) / (x1 - x0) * (width - 1))
            row = height - 1 - round((y - y0) / (y1 - y0) * (height - 1))
            grid[row][col] = MARKS[index % len(MARKS)]
    lines = [f"{y1:6.3f} ┤" + "".join(grid[0])]
    lines += ["       │" + "".join(row) for row in grid[1:-1]]
    lines += [f"{y0:6.3f} ┤" + "".join(grid[-1]), "       └" + "─" * width,
              f"        ${x0:<.4f}{'cost (USD) →':^{max(0, width - 20)}}${x1:.4f}",
              "        " + "   ".join(f"{MARKS[i % len(MARKS)]} {label}" for i, (label, _) in enumerate(series))]
    return "\n".join(lines)


def svg_plot(series: list[Series], title: str, width: int = 720, height: int = 440) -> str:
    left, right, top, bottom = 70, 20, 40, 60
    x0, x1, y0, y1 = _bounds(series)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>']
    for i in range(5):
        xv, yv = x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4
        parts.append(f'<text x="{sx(xv)}" y="{height - bottom + 18}" text-anchor="middle">${xv:.4g}</text>')
        parts.append(f'<text x="{left - 8}" y="{sy(yv) + 4}" text-anchor="end">{yv:.3f}</text>')
    parts.append(f'<text x="{(width + left) / 2}" y="{height - 15}" text-anchor="middle">cost (USD)</text>')
    parts.append(f'<text x="18" y="{height / 2}" transform="rotate(-90 18 {height / 2})" '
                 f'text-anchor="middle">quality</text>')
    for index, (label, points) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        ordered = sorted(points)
        if len(ordered) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ordered)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        else:
            x, y = ordered[0]
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{width - right - 200}" y="{top + 16 * (index + 1)}" fill="{colour}">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
