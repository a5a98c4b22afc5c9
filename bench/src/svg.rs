//! A small hand-written SVG line chart with logarithmic axes (no dependency): the scaling
//! picture of `amlctl plan` (wall time and lower bound against the estate size).

use std::fmt::Write as _;

/// One line of the chart: a label, a colour and its (x, y) points (both > 0).
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// SVG colour (`#1f77b4`).
    pub color: String,
    /// Whether the line is dashed (e.g. a bound rather than a measurement).
    pub dashed: bool,
    /// Points; those with x or y ≤ 0 cannot be drawn on log axes and are skipped.
    pub points: Vec<(f64, f64)>,
}

/// Chart text: title and axis labels.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// Escapes text for SVG element content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The decades `[10^lo, 10^hi]` that cover `min..=max` (at least one decade wide).
fn decades(min: f64, max: f64) -> (i32, i32) {
    let lo = min.log10().floor() as i32;
    let mut hi = max.log10().ceil() as i32;
    if hi <= lo {
        hi = lo + 1;
    }
    (lo, hi)
}

/// A power of ten as an axis label: `10`, `1000`, `10,000`, `0.1`.
fn tick_label(exp: i32) -> String {
    if exp < 0 {
        return format!("{}", 10f64.powi(exp));
    }
    let digits = format!("{}", 10u64.pow(exp as u32));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Chart {
    /// The chart as a standalone SVG document: log-scaled x and y axes with a tick and grid
    /// line per power of ten, one polyline (and dots) per series, and a legend.
    pub fn to_svg(&self) -> String {
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        };
        let (xmin, xmax) = pts().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
            (a.min(*x), b.max(*x))
        });
        let (ymin, ymax) = pts().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| {
            (a.min(*y), b.max(*y))
        });
        let ((xlo, xhi), (ylo, yhi)) = if xmin <= xmax && ymin <= ymax {
            (decades(xmin, xmax), decades(ymin, ymax))
        } else {
            ((0, 1), (0, 1))
        };
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x.log10() - f64::from(xlo)) / f64::from(xhi - xlo) * pw;
        let sy = |y: f64| TOP + ph - (y.log10() - f64::from(ylo)) / f64::from(yhi - ylo) * ph;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>
<text x="{}" y="24" font-size="15" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            esc(&self.title)
        );
        for e in xlo..=xhi {
            let x = sx(10f64.powi(e));
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/>
<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 18.0,
                tick_label(e)
            );
        }
        for e in ylo..=yhi {
            let y = sy(10f64.powi(e));
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/>
<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                tick_label(e)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>
<text x="{:.1}" y="{:.1}" text-anchor="middle">{} (log scale)</text>
<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{} (log scale)</text>"##,
            LEFT + pw / 2.0,
            H - 16.0,
            esc(&self.x_label),
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            esc(&self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let drawn: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                .map(|(x, y)| (sx(*x), sy(*y)))
                .collect();
            let color = esc(&series.color);
            let dash = if series.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let line: Vec<String> = drawn
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                line.join(" ")
            );
            for (x, y) in &drawn {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
                );
            }
            let ly = TOP + 10.0 + 20.0 * i as f64;
            let lx = LEFT + pw + 14.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/>
<text x="{:.1}" y="{:.1}">{}</text>"#,
                lx + 24.0,
                lx + 30.0,
                ly + 4.0,
                esc(&series.label)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            title: "plan <wall> & bound".into(),
            x_label: "computes".into(),
            y_label: "ms".into(),
            series: vec![
                Series {
                    label: "wall".into(),
                    color: "#1f77b4".into(),
                    dashed: false,
                    points: vec![
                        (10.0, 56.0),
                        (100.0, 70.0),
                        (1000.0, 150.0),
                        (10000.0, 900.0),
                    ],
                },
                Series {
                    label: "lower bound".into(),
                    color: "#888".into(),
                    dashed: true,
                    points: vec![(10.0, 40.0), (10000.0, 520.0), (0.0, 5.0)],
                },
            ],
        }
    }

    #[test]
    fn svg_is_well_formed_with_log_axis_labels() {
        let svg = chart().to_svg();
        assert!(svg.starts_with("<?xml"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        // Every element that is opened is closed (self-closing or with its end tag).
        for tag in ["svg", "text"] {
            let opened = svg.matches(&format!("<{tag} ")).count();
            let closed = svg.matches(&format!("</{tag}>")).count();
            assert_eq!(opened, closed, "<{tag}>: {svg}");
        }
        for tag in ["line", "circle", "polyline", "rect"] {
            let opened = svg.matches(&format!("<{tag} ")).count();
            let self_closed = svg
                .split(&format!("<{tag} "))
                .skip(1)
                .filter(|rest| rest.find("/>") < rest.find('<').or(Some(usize::MAX)))
                .count();
            assert_eq!(opened, self_closed, "<{tag}>: {svg}");
        }
        // Text is escaped.
        assert!(svg.contains("plan &lt;wall&gt; &amp; bound"), "{svg}");
        // Log axes: one tick per decade, labelled as powers of ten, and said so.
        for label in [">10<", ">100<", ">1000<", ">1,000<", ">10,000<"] {
            assert!(
                svg.contains(label) || label == ">1000<",
                "missing tick {label}: {svg}"
            );
        }
        assert!(svg.contains("computes (log scale)"), "{svg}");
        assert!(svg.contains("ms (log scale)"), "{svg}");
        // Decades are evenly spaced: 10 → 100 and 100 → 1,000 are the same width.
        let x = |label: &str| -> f64 {
            let i = svg.find(&format!(">{label}</text>")).expect(label);
            let head = &svg[..i];
            let at = head.rfind("<text x=\"").expect("x") + 9;
            head[at..].split('"').next().unwrap().parse().unwrap()
        };
        let (a, b, c) = (x("10"), x("100"), x("1,000"));
        assert!(((b - a) - (c - b)).abs() < 0.2, "{a} {b} {c}");
        // The point at x = 0 is skipped, not drawn at -infinity.
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("<circle ").count(), 6, "{svg}");
        // Both series are in the legend; the bound is dashed.
        assert!(svg.contains(">wall</text>") && svg.contains(">lower bound</text>"));
        assert!(svg.contains("stroke-dasharray"));
    }

    #[test]
    fn tick_labels_group_thousands() {
        assert_eq!(tick_label(0), "1");
        assert_eq!(tick_label(3), "1,000");
        assert_eq!(tick_label(4), "10,000");
        assert_eq!(tick_label(-1), "0.1");
    }
}
