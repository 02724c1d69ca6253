#!/usr/bin/env python3
"""Regenerate the Open Graph images in assets/static/og/ from the quizzes.

    plugins/quiz/tools/make_og_images.py [--only SLUG]

One 1200x630 PNG per result type (og/<slug>-<type>.png), one per quiz
(og/<slug>.png), the site default (og/default.png) and the page icon
(icon.png). KakaoTalk does not preview SVG, so these are PNGs: drawn as HTML,
shot with Debian's headless chromium (fonts-noto-cjk for the Korean text),
then reduced to a small palette with pngquant. The results are committed;
the build does not run this. Needs: apt-get install chromium fonts-noto-cjk
pngquant.
"""
import argparse
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
QUIZZES = os.path.join(ROOT, "assets", "quizzes")
OUT = os.path.join(ROOT, "assets", "static")

THEMES = {"sky": ("#2f74d8", "#8cc2ff"), "coral": ("#e0584b", "#ffb199"),
          "mint": ("#168a73", "#8fe3cc"), "violet": ("#6b4fd8", "#c3b4ff"),
          "amber": ("#c77800", "#ffd27a")}

PAGE = """<!doctype html><html lang="ko"><head><meta charset="utf-8"><style>
html,body{{margin:0;width:1200px;height:630px;overflow:hidden}}
body{{font-family:"Noto Sans CJK KR","Noto Sans KR",sans-serif;background:{a};
display:flex;align-items:center;justify-content:center;word-break:keep-all}}
.card{{width:1060px;height:490px;background:#fff;border-radius:44px;padding:56px 64px;box-sizing:border-box;
display:flex;flex-direction:column;justify-content:space-between}}
.top{{display:flex;align-items:center;gap:14px;font-size:30px;font-weight:700;color:#1f2333}}
.mark{{width:46px;height:46px;border-radius:12px;background:#5b5bd6;color:#fff;display:grid;place-items:center;font-size:26px}}
.kicker{{font-size:34px;color:{a};font-weight:700;margin:0 0 8px}}
.name{{font-size:{size}px;line-height:1.15;font-weight:900;color:#1f2333;margin:0}}
.sub{{font-size:30px;color:#5d6275;margin:18px 0 0;line-height:1.4}}
.foot{{font-size:26px;color:#8a8fa3}}
</style></head><body><div class="card">
<div class="top"><span class="mark">M</span>마인드퀴즈</div>
<div><p class="kicker">{kicker}</p><p class="name">{name}</p><p class="sub">{sub}</p></div>
<div class="foot">mindquiz.app</div></div></body></html>"""

ICON = """<!doctype html><html><head><style>html,body{margin:0;width:64px;height:64px;background:transparent}
div{width:64px;height:64px;border-radius:16px;background:#5b5bd6;color:#fff;display:grid;place-items:center;
font:700 40px "Noto Sans CJK KR",sans-serif}</style></head><body><div>M</div></body></html>"""


def shoot(chromium, html_text, out, size, tmp, colors):
    page = os.path.join(tmp, "page.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html_text)
    raw = os.path.join(tmp, "raw.png")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--force-device-scale-factor=1",
                    f"--window-size={size[0]},{size[1]}", f"--screenshot={raw}", "file://" + page],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["pngquant", "--force", "--strip", "--nofs", "--speed", "1", "--output", out, str(colors), raw],
                   check=True)
    print(f"{os.path.relpath(out, ROOT)}: {os.path.getsize(out)} bytes")


def card(theme, kicker, name, sub):
    a, b = THEMES.get(theme, THEMES["sky"])
    size = 84 if len(name) <= 9 else 70
    return PAGE.format(a=a, b=b, kicker=html.escape(kicker), name=html.escape(name),
                       sub=html.escape(sub), size=size)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="only this quiz slug")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if not chromium or not shutil.which("pngquant"):
        sys.exit("needs chromium, fonts-noto-cjk and pngquant (apt-get install chromium fonts-noto-cjk pngquant)")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.only:
            shoot(chromium, card("violet", "3분 심리 테스트", "요즘 나는 어떤 사람일까?",
                                 "가볍게 답하고 친구와 결과를 나눠 보세요."),
                  os.path.join(OUT, "og", "default.png"), (1200, 630), tmp, 16)
            shoot(chromium, ICON, os.path.join(OUT, "icon.png"), (64, 64), tmp, 16)
        for name in sorted(os.listdir(QUIZZES)):
            if not name.endswith(".json"):
                continue
            q = json.load(open(os.path.join(QUIZZES, name), encoding="utf-8"))
            if args.only and q["slug"] != args.only:
                continue
            theme = q.get("theme", "sky")
            shoot(chromium, card(theme, "심리 테스트", q["title"], f"{len(q['questions'])}문항 · 약 {q.get('minutes', 2)}분"),
                  os.path.join(OUT, "og", f"{q['slug']}.png"), (1200, 630), tmp, 16)
            for r in q["results"]:
                shoot(chromium, card(theme, q["title"] + " 결과", r["name"], r["summary"]),
                      os.path.join(OUT, "og", f"{q['slug']}-{r['type']}.png"), (1200, 630), tmp, 16)


if __name__ == "__main__":
    main()
