//! Inline SVG charts, drawn in Rust so the pages need no script and no outside request.
//!
//! Every chart is an `<svg role="img">` named by its `<title>` and summarised by its `<desc>`
//! (screen readers read those); colours come from classes in `site.css` so print and screen
//! styles can differ. Text passed in is escaped here, even though today it is all our own.

use std::fmt::Write;

use chrono::NaiveDate;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One line of a line chart.
pub struct Line<'a> {
    pub label: &'a str,
    /// A class from `site.css` (`s1` … `s8`) that colours it.
    pub class: &'static str,
    pub points: Vec<(NaiveDate, f64)>,
    /// Drawn as horizontal steps (seats bought change on a day, not gradually).
    pub step: bool,
    pub dashed: bool,
}

/// One layer of a stacked bar chart: a value per day.
pub struct Layer<'a> {
    pub label: &'a str,
    /// A class from `site.css` (`k1` … `k8`) that colours it.
    pub class: &'a str,
    pub values: Vec<f64>,
}

/// Escapes text for SVG/HTML content and attributes.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A maximum for the y axis that divides into four readable steps.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 4.0;
    }
    let raw_step = max / 4.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw_step)
        .unwrap_or(10.0 * magnitude);
    let step = if step < 1.0 { 1.0 } else { step };
    step * 4.0
}

fn tick_label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{}k", (v / 1000.0).round())
    } else {
        format!("{}", v.round())
    }
}

struct Frame {
    start: NaiveDate,
    days: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, d: NaiveDate) -> f64 {
        let offset = (d - self.start).num_days() as f64;
        LEFT + (WIDTH - LEFT - RIGHT) * offset / self.days.max(1.0)
    }
    fn y(&self, v: f64) -> f64 {
        TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v / self.y_max)
    }
}

fn open_svg(out: &mut String, id: &str, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<figure class=\"chart-box\"><svg class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         preserveAspectRatio=\"xMidYMid meet\" aria-labelledby=\"{id}-t {id}-d\">\
         <title id=\"{id}-t\">"
    );
    escape_into(out, title);
    let _ = write!(out, "</title><desc id=\"{id}-d\">");
    escape_into(out, desc);
    out.push_str("</desc>");
}

/// Closes the SVG and adds the legend as HTML, where it reflows and reads better than SVG text.
fn close_figure<'a>(out: &mut String, items: impl Iterator<Item = (&'a str, &'a str, bool)>) {
    out.push_str("</svg><figcaption><ul class=\"legend\">");
    for (label, class, dashed) in items {
        let dash = if dashed { " dashed" } else { "" };
        let _ = write!(
            out,
            "<li><span class=\"swatch {class}{dash}\" aria-hidden=\"true\"></span>"
        );
        escape_into(out, label);
        out.push_str("</li>");
    }
    out.push_str("</ul></figcaption></figure>");
}

/// Grid lines, y labels and a handful of x labels.
fn axes(out: &mut String, frame: &Frame, end: NaiveDate) {
    out.push_str("<g class=\"axis\" aria-hidden=\"true\">");
    for i in 0..=4 {
        let v = frame.y_max * f64::from(i) / 4.0;
        let y = frame.y(v);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            tick_label(v)
        );
    }
    let total_days = (end - frame.start).num_days();
    let ticks = total_days.clamp(0, 5);
    let format = if total_days > 120 { "%b %Y" } else { "%b %-d" };
    for i in 0..=ticks {
        let offset = if ticks == 0 {
            0
        } else {
            total_days * i / ticks
        };
        let d = frame.start + chrono::Days::new(offset as u64);
        let anchor = match i {
            0 => "start",
            i if i == ticks => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            frame.x(d),
            HEIGHT - 8.0,
            d.format(format)
        );
    }
    out.push_str("</g>");
}

/// A line chart over dates. `end` may reach past the data (a forecast to the licence end).
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    lines: &[Line<'_>],
    end: Option<NaiveDate>,
) -> String {
    let mut out = String::with_capacity(4096 + lines.len() * 6000);
    open_svg(&mut out, id, title, desc);
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (Some(start), Some(last)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        out.push_str("<text x=\"400\" y=\"130\" text-anchor=\"middle\">No data yet</text>");
        close_figure(&mut out, std::iter::empty());
        return out;
    };
    let end = end.map_or(last, |e| e.max(last));
    let frame = Frame {
        start,
        days: (end - start).num_days() as f64,
        y_max: nice_max(all().map(|p| p.1).fold(0.0, f64::max)),
    };
    axes(&mut out, &frame, end);
    for line in lines {
        if line.points.len() == 1 {
            let (d, v) = line.points[0];
            let _ = write!(
                out,
                "<circle class=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>",
                line.class,
                frame.x(d),
                frame.y(v)
            );
            continue;
        }
        let dash = if line.dashed { " dashed" } else { "" };
        let _ = write!(out, "<path class=\"line {}{dash}\" d=\"", line.class);
        let mut previous: Option<f64> = None;
        for (i, &(d, v)) in line.points.iter().enumerate() {
            let (x, y) = (frame.x(d), frame.y(v));
            match previous {
                None => {
                    let _ = write!(out, "M{x:.1} {y:.1}");
                }
                Some(prev_y) if line.step && i > 0 => {
                    let _ = write!(out, "H{x:.1}");
                    if (prev_y - y).abs() > f64::EPSILON {
                        let _ = write!(out, "V{y:.1}");
                    }
                }
                Some(_) => {
                    let _ = write!(out, "L{x:.1} {y:.1}");
                }
            }
            previous = Some(y);
        }
        out.push_str("\"/>");
    }
    close_figure(&mut out, lines.iter().map(|l| (l.label, l.class, l.dashed)));
    out
}

/// Bars per day, with `layers` stacked bottom to top.
pub fn stacked_bars(
    id: &str,
    title: &str,
    desc: &str,
    dates: &[NaiveDate],
    layers: &[Layer<'_>],
) -> String {
    let mut out = String::with_capacity(4096 + dates.len() * layers.len() * 64);
    open_svg(&mut out, id, title, desc);
    let (Some(&start), Some(&end)) = (dates.first(), dates.last()) else {
        out.push_str("<text x=\"400\" y=\"130\" text-anchor=\"middle\">No data yet</text>");
        close_figure(&mut out, std::iter::empty());
        return out;
    };
    let totals: Vec<f64> = (0..dates.len())
        .map(|i| {
            layers
                .iter()
                .map(|l| l.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    // one extra day so the last bar sits inside the plot
    let frame = Frame {
        start,
        days: (end - start).num_days() as f64 + 1.0,
        y_max: nice_max(totals.iter().copied().fold(0.0, f64::max)),
    };
    axes(&mut out, &frame, end);
    // thin bars for a year, not one wall-wide bar for a single day
    let bar_width = ((WIDTH - LEFT - RIGHT) / frame.days * 0.8).clamp(0.5, 24.0);
    for layer in layers {
        let _ = write!(out, "<g class=\"{}\">", layer.class);
        for (i, &d) in dates.iter().enumerate() {
            let below: f64 = layers
                .iter()
                .take_while(|l| !std::ptr::eq(*l, layer))
                .map(|l| l.values.get(i).copied().unwrap_or(0.0))
                .sum();
            let v = layer.values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let (y_top, y_bottom) = (frame.y(below + v), frame.y(below));
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{y_top:.1}\" width=\"{bar_width:.1}\" height=\"{:.1}\"/>",
                frame.x(d),
                (y_bottom - y_top).max(0.1)
            );
        }
        out.push_str("</g>");
    }
    // top layer first, as the bars read
    close_figure(
        &mut out,
        layers.iter().rev().map(|l| (l.label, l.class, false)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn nice_max_rounds_up_to_four_even_steps() {
        assert_eq!(nice_max(0.0), 4.0);
        assert_eq!(nice_max(3.0), 4.0);
        assert_eq!(nice_max(97.0), 100.0);
        assert_eq!(nice_max(101.0), 200.0);
        assert_eq!(nice_max(9_500.0), 10_000.0);
    }

    #[test]
    fn line_chart_is_labelled_and_escapes_its_text() {
        let svg = line_chart(
            "c1",
            "Seats <&> \"use\"",
            "desc",
            &[Line {
                label: "in use",
                class: "s1",
                points: vec![(d("2026-01-01"), 1.0), (d("2026-01-02"), 3.0)],
                step: false,
                dashed: false,
            }],
            None,
        );
        assert!(svg.starts_with("<figure class=\"chart-box\"><svg"), "{svg}");
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"c1-t c1-d\""));
        assert!(svg.contains("<title id=\"c1-t\">Seats &lt;&amp;&gt; &quot;use&quot;</title>"));
        assert!(svg.contains("<path class=\"line s1\" d=\"M56.0 "), "{svg}");
        assert!(svg.contains("</svg><figcaption>"));
        assert!(
            svg.contains("<li><span class=\"swatch s1\" aria-hidden=\"true\"></span>in use</li>")
        );
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(line_chart("e", "t", "d", &[], None).contains("No data yet"));
        assert!(stacked_bars("e", "t", "d", &[], &[]).contains("No data yet"));
    }

    #[test]
    fn stacked_bars_stack_layers() {
        let svg = stacked_bars(
            "b",
            "t",
            "d",
            &[d("2026-01-01")],
            &[
                Layer {
                    label: "a",
                    class: "s1",
                    values: vec![2.0],
                },
                Layer {
                    label: "b",
                    class: "s2",
                    values: vec![2.0],
                },
            ],
        );
        // y_max is 4: the lower layer spans the bottom half, the upper one the top half
        let plot = HEIGHT - TOP - BOTTOM;
        let half = format!("height=\"{:.1}\"", plot / 2.0);
        assert_eq!(svg.matches(&half).count(), 2, "{svg}");
        assert!(svg.contains(&format!("y=\"{TOP:.1}\"")), "{svg}");
    }
}
