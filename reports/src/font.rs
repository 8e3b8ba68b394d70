//! The charts' font (DejaVu Sans, shipped in `assets/`): how wide a text is, and how a PNG draws
//! it, both laid out the way an SVG viewer lays out the same text.
//!
//! A chart's SVG names the font at `font-size` = size / 1.24 px (plotters' text sizes are 1.24
//! times the em) and the viewer places each glyph by the font's advance widths and kerning.
//! plotters' own bitmap text (0.3.7, through `ab_glyph`) did otherwise in three ways, which is why
//! PNG text read "m achine.resp on se" and "t1" as "tl" while the SVG was right:
//! - it scaled glyphs by the font's whole height (ascent - descent, 1.164 em for DejaVu Sans)
//!   rather than the em, so PNG text was 6.5% larger than the SVG's;
//! - it started each glyph's ink at the pen position, dropping the glyph's left side bearing: a
//!   narrow glyph in a wide advance ("1", "i", "l", ".") sat against the glyph before it and left
//!   a gap after it;
//! - it cut each pen position to a whole pixel, so gaps varied by up to a pixel more.
//!
//! So a PNG's text is drawn here ([`PngText`], a wrapper over the bitmap backend that replaces
//! only its `draw_text`): glyphs at fractional pen positions (the rasteriser shades the partial
//! pixels), each with its bearing, at the SVG's em, anchored as the SVG anchors it. [`width`] is
//! the same layout's advance, so what a chart measures before placing a text is what both formats
//! draw.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontTransform,
};

/// The font file every chart uses.
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// plotters' text size per em: its SVG backend writes `font-size` as size / 1.24.
const SIZE_PER_EM: f32 = 1.24;

/// The parsed font, or None if the shipped file does not parse (then nothing can be drawn, and
/// the chart module says so).
fn face() -> Option<&'static FontRef<'static>> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// A line of text laid out: each glyph with its pen position (px from the line's start), and the
/// whole advance.
struct Line {
    scale: PxScale,
    glyphs: Vec<(GlyphId, f32)>,
    width: f32,
}

/// `text` at plotters size `size`: advances plus kerning at an em of size / 1.24 px.
fn lay_out(font: &FontRef<'static>, text: &str, size: f64) -> Line {
    let em = size as f32 / SIZE_PER_EM;
    let units = font.units_per_em().unwrap_or(2048.0);
    // ab_glyph's PxScale is the height of ascent - descent, not the em.
    let scale = PxScale::from(em * font.height_unscaled() / units);
    let scaled = font.as_scaled(scale);
    let mut glyphs = Vec::with_capacity(text.len());
    let mut pen = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        glyphs.push((id, pen));
        pen += scaled.h_advance(id);
        prev = Some(id);
    }
    Line {
        scale,
        glyphs,
        width: pen,
    }
}

/// The width in px of `text` at plotters size `size` as both formats draw it (the advance of
/// its glyphs, with kerning); None if the font is missing.
pub fn width(text: &str, size: f64) -> Option<f64> {
    Some(lay_out(face()?, text, size).width as f64)
}

/// Where the baseline sits below the anchor's y, by vertical anchor, in px at `size`: the SVG
/// backend's `dy` (0.76 em at the top, 0.5 ex for the centre, -0.5 ex at the bottom).
fn baseline(font: &FontRef<'static>, v: VPos, size: f64) -> f32 {
    let em = size as f32 / SIZE_PER_EM;
    let units = font.units_per_em().unwrap_or(2048.0);
    // The ex is the height of "x".
    let ex = font
        .outline(font.glyph_id('x'))
        .map_or(0.5 * units, |o| o.bounds.max.y)
        / units
        * em;
    match v {
        VPos::Top => 0.76 * em,
        VPos::Center => 0.5 * ex,
        VPos::Bottom => -0.5 * ex,
    }
}

/// The pixel a pixel of unrotated text at `(x, y)` from the anchor lands on, rotated as the SVG
/// rotates text about its anchor (clockwise, in screen coordinates).
fn rotate(t: &FontTransform, x: i32, y: i32) -> (i32, i32) {
    // A pixel is the unit square from its corner, so a quarter turn also moves the corner.
    match t {
        FontTransform::None => (x, y),
        FontTransform::Rotate90 => (-y - 1, x),
        FontTransform::Rotate180 => (-x - 1, -y - 1),
        FontTransform::Rotate270 => (y, -x - 1),
    }
}

/// Every pixel of `text` drawn at `size` with anchor `anchor` and rotation `t`, as (x, y)
/// relative to the anchor and coverage in (0, 1]. Pixels of overlapping glyphs come once per
/// glyph.
fn pixels(
    font: &FontRef<'static>,
    text: &str,
    size: f64,
    (h, v): (HPos, VPos),
    t: FontTransform,
    mut put: impl FnMut(i32, i32, f32),
) {
    let line = lay_out(font, text, size);
    let x0 = match h {
        HPos::Left => 0.0,
        HPos::Center => -line.width / 2.0,
        HPos::Right => -line.width,
    };
    let y0 = baseline(font, v, size);
    for (id, pen) in line.glyphs {
        let glyph = id.with_scale_and_position(line.scale, point(x0 + pen, y0));
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue; // a space
        };
        let min = outlined.px_bounds().min;
        outlined.draw(|gx, gy, c| {
            let c = c.min(1.0);
            if c > 0.0 {
                let (x, y) = rotate(&t, min.x as i32 + gx as i32, min.y as i32 + gy as i32);
                put(x, y, c);
            }
        });
    }
}

/// A drawing backend that draws text as [`width`] measures it (see the module's doc) and
/// everything else as `DB` does. What PNG charts are drawn on.
pub(crate) struct PngText<DB>(pub DB);

type Drawn<E> = Result<(), DrawingErrorKind<E>>;

impl<DB: DrawingBackend> DrawingBackend for PngText<DB> {
    type ErrorType = DB::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Drawn<DB::ErrorType> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Drawn<DB::ErrorType> {
        self.0.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn<DB::ErrorType> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Drawn<DB::ErrorType> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Drawn<DB::ErrorType> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Drawn<DB::ErrorType> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Drawn<DB::ErrorType> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Drawn<DB::ErrorType> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Drawn<DB::ErrorType> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Drawn<DB::ErrorType> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        // Charts use the shipped font only, whatever family a style names.
        let Some(font) = face() else {
            return self.0.draw_text(text, style, pos);
        };
        let anchor = style.anchor();
        let (w, h) = self.0.get_size();
        let mut result = Ok(());
        pixels(
            font,
            text,
            style.size(),
            (anchor.h_pos, anchor.v_pos),
            style.transform(),
            |x, y, c| {
                let (x, y) = (pos.0 + x, pos.1 + y);
                if result.is_ok() && x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    let ink = BackendColor {
                        alpha: colour.alpha * c as f64,
                        rgb: colour.rgb,
                    };
                    result = self.0.draw_pixel((x, y), ink);
                }
            },
        );
        result
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<DB::ErrorType>> {
        match width(text, style.size()) {
            Some(w) => Ok((
                w.ceil() as u32,
                (style.size() as f32 / SIZE_PER_EM).ceil() as u32,
            )),
            None => self.0.estimate_text_size(text, style),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::text_anchor::Pos;

    /// `text` drawn black at `size` on a white bitmap `w` x `h` px, through the backend charts
    /// draw PNGs with, anchored at `at`.
    fn draw(text: &str, size: f64, (w, h): (u32, u32), at: (i32, i32), anchor: Pos) -> Vec<u8> {
        let mut rgb = vec![255u8; w as usize * h as usize * 3];
        {
            let mut png = PngText(BitMapBackend::with_buffer(&mut rgb, (w, h)));
            let style = TextStyle::from((crate::chart::FONT_FAMILY, size).into_font())
                .color(&BLACK)
                .pos(anchor);
            png.draw_text(text, &style, at).unwrap();
            png.present().unwrap();
        }
        rgb
    }

    /// Columns with ink (a pixel darker than mid-grey), left to right.
    fn inked_columns(rgb: &[u8], (w, h): (u32, u32)) -> Vec<u32> {
        (0..w)
            .filter(|&x| (0..h).any(|y| rgb[(y as usize * w as usize + x as usize) * 3] < 128))
            .collect()
    }

    /// Runs of consecutive inked columns, as (first, last).
    fn runs(cols: &[u32]) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for &c in cols {
            match out.last_mut() {
                Some(r) if r.1 + 1 == c => r.1 = c,
                _ => out.push((c, c)),
            }
        }
        out
    }

    /// A glyph's ink from its pen position, in px at `size`: (left bearing, right edge), from the
    /// font's own outline bounds (not from the layout under test).
    fn ink(c: char, size: f64) -> (f64, f64) {
        let font = face().unwrap();
        let o = font.outline(font.glyph_id(c)).unwrap();
        let per_unit = size / 1.24 / font.units_per_em().unwrap() as f64;
        (
            o.bounds.min.x as f64 * per_unit,
            o.bounds.max.x as f64 * per_unit,
        )
    }

    /// "t1" read "tl" in PNGs: the "1" sat against the "t". Its ink starts where the font puts
    /// it: after the "t"'s advance, at the "1"'s left bearing, so the gap between the two inks
    /// is what the font's metrics say (to within a pixel of rounding either side).
    #[test]
    fn glyphs_keep_their_side_bearings() {
        let size = 28.0;
        let (w, h) = (120, 40);
        let rgb = draw("t1", size, (w, h), (10, 4), Pos::new(HPos::Left, VPos::Top));
        let r = runs(&inked_columns(&rgb, (w, h)));
        assert_eq!(r.len(), 2, "two glyphs apart: {r:?}");
        let font = face().unwrap();
        let per_unit = size / 1.24 / font.units_per_em().unwrap() as f64;
        let (t, one) = (font.glyph_id('t'), font.glyph_id('1'));
        let advance_t = font.h_advance_unscaled(t) as f64 * per_unit;
        let kern = font.kern_unscaled(t, one) as f64 * per_unit;
        let (t_left, t_right) = ink('t', size);
        let (one_left, _) = ink('1', size);
        let gap = advance_t + kern + one_left - t_right;
        assert!(gap > 2.0, "the font leaves a real gap: {gap}");
        let drawn_gap = (r[1].0 - r[0].1 - 1) as f64;
        assert!(
            (drawn_gap - gap).abs() <= 1.5,
            "gap between t and 1: drawn {drawn_gap} px, font {gap:.2} px ({r:?})"
        );
        assert!(
            (r[0].0 as f64 - (10.0 + t_left)).abs() <= 1.0,
            "t's ink starts at its bearing: {r:?}"
        );
    }

    /// Centred text spans the width the SVG gives it: its ink runs from the centre minus half
    /// the advance (plus the first glyph's bearing) to the centre plus half (minus the last
    /// glyph's right bearing), so it neither grows past what was measured nor shifts.
    #[test]
    fn centred_text_covers_its_measured_width() {
        let (size, text) = (14.0, "machine.response");
        let (w, h) = (400, 30);
        let rgb = draw(
            text,
            size,
            (w, h),
            (200, 15),
            Pos::new(HPos::Center, VPos::Center),
        );
        let cols = inked_columns(&rgb, (w, h));
        let (first, last) = (cols[0] as f64, *cols.last().unwrap() as f64 + 1.0);
        let adv = width(text, size).unwrap();
        let font = face().unwrap();
        let per_unit = size / 1.24 / font.units_per_em().unwrap() as f64;
        let e = font.glyph_id('e');
        let (m_left, _) = ink('m', size);
        let (_, e_right) = ink('e', size);
        let e_rsb = font.h_advance_unscaled(e) as f64 * per_unit - e_right;
        let (want_first, want_last) = (200.0 - adv / 2.0 + m_left, 200.0 + adv / 2.0 - e_rsb);
        assert!(
            (first - want_first).abs() <= 1.0 && (last - want_last).abs() <= 1.0,
            "ink {first}..{last}, font says {want_first:.1}..{want_last:.1} (advance {adv:.1})"
        );
        // At 14 px the em is 11.3 px; "machine.response" is about 9.3 em wide in DejaVu Sans.
        assert!((adv - 105.0).abs() < 5.0, "{adv}");
    }

    /// A quarter turn (the y axis' label) keeps every pixel: the rotated text is the upright one
    /// turned, on the same grid.
    #[test]
    fn rotated_text_is_the_upright_text_turned() {
        let font = face().unwrap();
        let mut upright = Vec::new();
        let mut turned = Vec::new();
        let anchor = (HPos::Center, VPos::Center);
        pixels(
            font,
            "latency (ms)",
            14.0,
            anchor,
            FontTransform::None,
            |x, y, c| upright.push((x, y, c.to_bits())),
        );
        pixels(
            font,
            "latency (ms)",
            14.0,
            anchor,
            FontTransform::Rotate270,
            |x, y, c| turned.push((x, y, c.to_bits())),
        );
        let back: Vec<_> = turned.iter().map(|&(x, y, c)| (-y - 1, x, c)).collect();
        assert_eq!(back, upright);
        assert!(!upright.is_empty());
    }
}
