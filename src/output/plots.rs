//! SVG plots of a sweep (plotters, SVG backend only: no fonts, no system
//! libraries, byte-identical output): the cost/freshness frontier, loss
//! against reconciliation cadence, and latency percentiles per point.

use plotters::chart::{ChartContext, SeriesAnno};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

/// What a plot needs of one point (means over its seeds).
#[derive(Clone, Debug)]
pub struct PlotPoint {
    /// Label.
    pub label: String,
    /// `poll`, `webhook` or `hybrid`.
    pub strategy: String,
    /// Requests per mailbox-day.
    pub cost: f64,
    /// Latency percentiles in ms: p50, p90, p99, p999, max.
    pub latency: [Option<f64>; 5],
    /// Loss rate (share).
    pub loss: f64,
    /// Recovery rate (share).
    pub recovery: f64,
    /// Reconciliation period, minutes (hybrid).
    pub reconcile_every_min: Option<f64>,
    /// True when every seed meets every threshold.
    pub meets: bool,
    /// Changes lost (mean over seeds).
    pub lost: f64,
    /// Thin-payload fetches per mailbox-day (mean over seeds): what a
    /// webhook costs at the API when its payloads are thin.
    pub fetches: f64,
}

/// Which axis of the frontier a threshold bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontierAxis {
    /// Requests per mailbox-day (x).
    Cost,
    /// p99 lag in minutes (y).
    P99,
}

/// A threshold on one of the frontier's axes, drawn as a line.
#[derive(Clone, Debug)]
pub struct ThresholdLine {
    /// The axis it bounds.
    pub axis: FrontierAxis,
    /// The bound, in the axis's unit (requests per mailbox-day, or
    /// minutes).
    pub value: f64,
    /// What it says, e.g. `p99 lag < 15 min`.
    pub text: String,
}

/// The plots of a sweep, one SVG file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plot {
    /// [`frontier`]: cost against p99 lag.
    Frontier,
    /// [`loss_vs_cadence`]: loss and recovery against reconciliation period.
    LossVsCadence,
    /// [`latency`]: latency percentiles per point.
    Latency,
}

impl Plot {
    /// Every plot, in the order `report.md` shows them.
    pub const ALL: [Plot; 3] = [Plot::Frontier, Plot::LossVsCadence, Plot::Latency];

    /// The file it is written to, in the sweep folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Plot::Frontier => "frontier.svg",
            Plot::LossVsCadence => "loss_vs_cadence.svg",
            Plot::Latency => "latency.svg",
        }
    }

    /// Its alternative text in `report.md`.
    pub fn title(self) -> &'static str {
        match self {
            Plot::Frontier => "cost vs freshness",
            Plot::LossVsCadence => "loss vs reconciliation cadence",
            Plot::Latency => "latency distribution",
        }
    }

    /// The SVG of this plot of `points` (the frontier draws
    /// `thresholds` on its axes).
    pub fn render(
        self,
        points: &[PlotPoint],
        thresholds: &[ThresholdLine],
    ) -> Result<String, PlotError> {
        match self {
            Plot::Frontier => frontier(points, thresholds),
            Plot::LossVsCadence => loss_vs_cadence(points),
            Plot::Latency => latency(points),
        }
    }
}

impl std::fmt::Display for Plot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}

/// What plotters reports when drawing fails.
pub type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// Why a plot could not be drawn. The SVG is drawn into memory, so this is
/// never a file error: plotters refused the drawing itself.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters failed while drawing `plot`.
    #[error("cannot draw {plot}: {source}")]
    Draw {
        /// The plot.
        plot: Plot,
        /// What plotters said.
        source: DrawError,
    },
}

/// Colour of a strategy (stable across plots).
fn colour(strategy: &str) -> RGBColor {
    match strategy {
        "poll" => RGBColor(214, 39, 40),
        "webhook" => RGBColor(31, 119, 180),
        "hybrid" => RGBColor(44, 160, 44),
        _ => RGBColor(127, 127, 127),
    }
}

const STRATEGIES: [&str; 3] = ["poll", "webhook", "hybrid"];

/// The drawing area of one plot.
type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart on an SVG drawing area.
type Chart<'a, 'b, X, Y> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<<X as AsRangedCoord>::CoordDescType, <Y as AsRangedCoord>::CoordDescType>,
>;

/// Draws `plot` with `f` on a white 800×500 canvas; the SVG text.
fn draw<F>(plot: Plot, f: F) -> Result<String, PlotError>
where
    F: FnOnce(&Root) -> Result<(), DrawError>,
{
    draw_sized(plot, (800, 500), f)
}

/// Draws `plot` with `f` on a white canvas of `size` pixels.
fn draw_sized<F>(plot: Plot, size: (u32, u32), f: F) -> Result<String, PlotError>
where
    F: FnOnce(&Root) -> Result<(), DrawError>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| f(&root))
            .and_then(|()| root.present())
            .map_err(|source| PlotError::Draw { plot, source })?;
    }
    Ok(svg)
}

/// The frame every plot shares: caption, margins, label areas, axes.
fn chart<'a, 'b, X: AsRangedCoord, Y: AsRangedCoord>(
    root: &'a Root<'b>,
    caption: &str,
    x: X,
    y: Y,
) -> Result<Chart<'a, 'b, X, Y>, DrawError> {
    ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)
}

/// How a series is shown in the legend.
#[derive(Clone, Copy, Debug)]
enum Key {
    /// A short thick line (line series).
    Line,
}

/// Names `series` in the legend, with a key in `colour`.
fn label(series: &mut SeriesAnno<'_, SVGBackend<'_>>, name: &str, key: Key, colour: RGBColor) {
    let series = series.label(name);
    match key {
        Key::Line => series.legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
        }),
    };
}

/// Draws the legend of every labelled series at `position`.
fn legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawError> {
    chart
        .configure_series_labels()
        .position(position)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
}

/// The frontier's canvas: the chart on the left, the legend panel (outside
/// the data) on the right.
pub const FRONTIER_SIZE: (u32, u32) = (1060, 560);

/// Width of the frontier's legend panel, right of the chart.
const PANEL: u32 = 300;

/// Point labels' font size (plotters writes `size / 1.24` into the SVG).
const LABEL_SIZE: f64 = 13.0;

/// A rectangle in pixels: left, top, right, bottom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Box2 {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y1: f64,
}

impl Box2 {
    /// True when the two share any area.
    pub fn overlaps(&self, o: &Box2) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// True when `o` lies wholly inside.
    pub fn contains(&self, o: &Box2) -> bool {
        o.x0 >= self.x0 && o.x1 <= self.x1 && o.y0 >= self.y0 && o.y1 <= self.y1
    }

    /// Distance from `(x, y)` to the nearest point of the box.
    fn distance(&self, (x, y): (f64, f64)) -> f64 {
        let dx = (self.x0 - x).max(0.0).max(x - self.x1);
        let dy = (self.y0 - y).max(0.0).max(y - self.y1);
        dx.hypot(dy)
    }
}

/// The box a text takes when drawn at `(x, y)` (its top-left corner) in a
/// font of `size` (plotters' size): a generous estimate, 0.62 em a
/// character plus 2 px each side, as the SVG has no font metrics.
pub fn text_box(text: &str, (x, y): (f64, f64), size: f64) -> Box2 {
    let em = size / 1.24;
    Box2 {
        x0: x - 2.0,
        y0: y - 2.0,
        x1: x + 0.62 * em * text.chars().count() as f64 + 2.0,
        y1: y + 1.25 * em + 2.0,
    }
}

/// Places a label for each anchor (a point, in pixels) inside `area`,
/// clear of every other label and of the `obstacles` (point markers,
/// threshold texts): greedily, in the anchors' order, at the first free
/// spot of rings around the anchor (right, left, above, below, then the
/// diagonals, farther out each ring), then at the nearest free spot of a
/// grid over the whole area. Deterministic: the same input gives the same
/// places. `None` for a label with no free spot (it is listed in the
/// legend instead).
pub fn place_labels(
    anchors: &[((f64, f64), String)],
    area: Box2,
    obstacles: &[Box2],
    size: f64,
) -> Vec<Option<Box2>> {
    let mut taken: Vec<Box2> = obstacles.to_vec();
    let mut out = Vec::new();
    for ((x, y), text) in anchors {
        let probe = text_box(text, (0.0, 0.0), size);
        let (w, h) = (probe.x1 - probe.x0, probe.y1 - probe.y0);
        let at = |left: f64, top: f64| Box2 {
            x0: left,
            y0: top,
            x1: left + w,
            y1: top + h,
        };
        let fits =
            |b: &Box2, taken: &[Box2]| area.contains(b) && !taken.iter().any(|t| t.overlaps(b));
        let mut found = None;
        'rings: for r in [9.0, 16.0, 26.0, 40.0, 60.0, 85.0, 115.0] {
            for b in [
                at(x + r, y - h / 2.0),
                at(x - r - w, y - h / 2.0),
                at(x - w / 2.0, y - r - h),
                at(x - w / 2.0, y + r),
                at(x + r * 0.7, y - r * 0.7 - h),
                at(x - r * 0.7 - w, y - r * 0.7 - h),
                at(x + r * 0.7, y + r * 0.7),
                at(x - r * 0.7 - w, y + r * 0.7),
            ] {
                if fits(&b, &taken) {
                    found = Some(b);
                    break 'rings;
                }
            }
        }
        if found.is_none() {
            let mut best: Option<(f64, Box2)> = None;
            let mut top = area.y0;
            while top + h <= area.y1 {
                let mut left = area.x0;
                while left + w <= area.x1 {
                    let b = at(left, top);
                    let d = b.distance((*x, *y));
                    if best.is_none_or(|(bd, _)| d < bd) && fits(&b, &taken) {
                        best = Some((d, b));
                    }
                    left += 6.0;
                }
                top += 6.0;
            }
            found = best.map(|(_, b)| b);
        }
        if let Some(b) = found {
            taken.push(b);
        }
        out.push(found);
    }
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Colour of threshold lines and their text.
const THRESHOLD: RGBColor = RGBColor(170, 0, 120);

/// Requests per mailbox-day (log scale) against p99 latency (minutes),
/// one labelled point per configuration, coloured by strategy. The legend
/// sits in a panel right of the chart, never over the data. Labels are
/// placed by [`place_labels`] (never overlapping, with a leader line when
/// away from their point). A threshold on either axis is a line; a point
/// that fails a threshold is hollow; a point that lost changes has a black
/// ring and its label says how many. A point without API requests
/// (webhooks with full payloads) sits at 0.1, and the legend says so;
/// thin payloads' fetches are counted, and the legend says that too.
pub fn frontier(points: &[PlotPoint], thresholds: &[ThresholdLine]) -> Result<String, PlotError> {
    let xs: Vec<f64> = points.iter().map(|p| p.cost.max(0.1)).collect();
    let ys: Vec<f64> = points
        .iter()
        .map(|p| p.latency[2].unwrap_or(0.0) / 60_000.0)
        .collect();
    let on = |axis| {
        thresholds
            .iter()
            .filter(move |t: &&ThresholdLine| t.axis == axis && t.value.is_finite())
    };
    let xmax = xs
        .iter()
        .copied()
        .chain(on(FrontierAxis::Cost).map(|t| t.value))
        .fold(1.0, f64::max)
        * 2.0;
    let xmin = on(FrontierAxis::Cost)
        .map(|t| t.value / 2.0)
        .filter(|v| *v > 0.0)
        .fold(0.05, f64::min);
    let ymax = ys
        .iter()
        .copied()
        .chain(on(FrontierAxis::P99).map(|t| t.value))
        .fold(1.0, f64::max)
        * 1.15;
    let free = points.iter().any(|p| p.cost <= 0.0);
    let thin = points.iter().any(|p| p.fetches > 0.0);
    let (width, height) = FRONTIER_SIZE;
    draw_sized(Plot::Frontier, FRONTIER_SIZE, |root| {
        let (left, right) = root.split_horizontally(width - PANEL);
        let mut chart = chart(
            &left,
            "Cost vs freshness: requests per mailbox-day against p99 lag",
            (xmin..xmax).log_scale(),
            0f64..ymax,
        )?;
        chart
            .configure_mesh()
            .x_desc(if free {
                "requests per mailbox-day (log; no API requests: at 0.1)"
            } else {
                "requests per mailbox-day (log)"
            })
            .y_desc("p99 lag (minutes)")
            .draw()?;
        let (px, py) = chart.plotting_area().get_pixel_range();
        let area = Box2 {
            x0: f64::from(px.start),
            y0: f64::from(py.start),
            x1: f64::from(px.end),
            y1: f64::from(py.end),
        };
        let pixel = |x: f64, y: f64| {
            let (a, b) = chart.backend_coord(&(x, y));
            (f64::from(a), f64::from(b))
        };
        // The frame of the data area.
        root.draw(&Rectangle::new(
            [(px.start, py.start), (px.end, py.end)],
            RGBColor(90, 90, 90).stroke_width(1),
        ))?;
        // Threshold lines, with their text inside the data area.
        let mut obstacles: Vec<Box2> = Vec::new();
        let mut threshold_texts: Vec<((f64, f64), String)> = Vec::new();
        for t in thresholds.iter().filter(|t| t.value.is_finite()) {
            let (a, b) = match t.axis {
                FrontierAxis::Cost => {
                    let (x, _) = pixel(t.value, 0.0);
                    ((x, area.y0), (x, area.y1))
                }
                FrontierAxis::P99 => {
                    let (_, y) = pixel(xmin, t.value);
                    ((area.x0, y), (area.x1, y))
                }
            };
            root.draw(&PathElement::new(
                vec![(a.0 as i32, a.1 as i32), (b.0 as i32, b.1 as i32)],
                THRESHOLD.stroke_width(1),
            ))?;
            let text = format!("threshold: {}", t.text);
            // Beside its line, inside the frame: right of a vertical line
            // when it fits there, else left; above a horizontal one when
            // it fits there, else below.
            let w = text_box(&text, (0.0, 0.0), 11.0).x1 + 4.0;
            let at = match t.axis {
                FrontierAxis::Cost if a.0 + 4.0 + w <= area.x1 => (a.0 + 4.0, area.y0 + 4.0),
                FrontierAxis::Cost => ((a.0 - 4.0 - w).max(area.x0 + 2.0), area.y0 + 4.0),
                FrontierAxis::P99 if a.1 - 16.0 >= area.y0 => (area.x1 - w, a.1 - 16.0),
                FrontierAxis::P99 => (area.x1 - w, a.1 + 4.0),
            };
            obstacles.push(text_box(&text, at, 11.0));
            threshold_texts.push((at, text));
        }
        for (at, text) in &threshold_texts {
            root.draw(&Text::new(
                text.clone(),
                (at.0 as i32, at.1 as i32),
                ("sans-serif", 11).into_font().color(&THRESHOLD),
            ))?;
        }
        // Markers: filled when the point meets the thresholds, hollow when
        // it fails one; a black ring when it lost changes.
        let anchors: Vec<(f64, f64)> = xs.iter().zip(&ys).map(|(x, y)| pixel(*x, *y)).collect();
        for (p, &(x, y)) in points.iter().zip(&anchors) {
            let c = colour(&p.strategy);
            let (xi, yi) = (x as i32, y as i32);
            if p.meets {
                root.draw(&Circle::new((xi, yi), 6, c.filled()))?;
            } else {
                root.draw(&Circle::new((xi, yi), 6, c.stroke_width(2)))?;
            }
            if p.lost > 0.0 {
                root.draw(&Circle::new((xi, yi), 10, BLACK.stroke_width(2)))?;
            }
            obstacles.push(Box2 {
                x0: x - 11.0,
                y0: y - 11.0,
                x1: x + 11.0,
                y1: y + 11.0,
            });
        }
        let texts: Vec<String> = points.iter().map(point_text).collect();
        let placed = place_labels(
            &anchors
                .iter()
                .copied()
                .zip(texts.iter().cloned())
                .collect::<Vec<_>>(),
            area,
            &obstacles,
            LABEL_SIZE,
        );
        let mut unplaced = Vec::new();
        for (((x, y), text), b) in anchors.iter().zip(&texts).zip(&placed) {
            let Some(b) = b else {
                unplaced.push(text.clone());
                continue;
            };
            // A leader line from the point to the label when it sits away.
            if b.distance((*x, *y)) > 12.0 {
                let tx = x.clamp(b.x0, b.x1);
                let ty = y.clamp(b.y0, b.y1);
                root.draw(&PathElement::new(
                    vec![(*x as i32, *y as i32), (tx as i32, ty as i32)],
                    RGBColor(150, 150, 150).stroke_width(1),
                ))?;
            }
            root.draw(&Text::new(
                text.clone(),
                ((b.x0 + 2.0) as i32, (b.y0 + 2.0) as i32),
                ("sans-serif", LABEL_SIZE),
            ))?;
        }
        // The legend, in its own panel right of the chart.
        let mut rows: Vec<(LegendKey, String)> = Vec::new();
        for s in STRATEGIES {
            if points.iter().any(|p| p.strategy == s) {
                rows.push((LegendKey::Dot(colour(s)), s.to_string()));
            }
        }
        if points.iter().any(|p| !p.meets) {
            rows.push((LegendKey::Hollow, "fails a threshold".into()));
        }
        if points.iter().any(|p| p.lost > 0.0) {
            rows.push((LegendKey::Ring, "lost changes (count in its label)".into()));
        }
        for t in thresholds.iter().filter(|t| t.value.is_finite()) {
            rows.push((LegendKey::Line, format!("threshold: {}", t.text)));
        }
        let mut notes: Vec<String> = Vec::new();
        if free {
            notes.push("At x = 0.1: no API requests (webhooks with full payloads).".into());
        }
        if thin {
            notes.push(
                "Thin payloads (e.g. Microsoft Graph) cost an API fetch per notification; x counts them, and their labels say (thin).".into(),
            );
        }
        for u in &unplaced {
            notes.push(format!("Not labelled in the chart (no room): {u}"));
        }
        let (rx, _) = right.get_pixel_range();
        let x0 = rx.start + 10;
        let x1 = rx.end - 10;
        // (key, text, indent): a key on a row's first line only.
        let mut lines: Vec<(Option<LegendKey>, String, i32)> = Vec::new();
        for (key, text) in rows {
            for (i, l) in wrap(&text, 38).into_iter().enumerate() {
                lines.push(((i == 0).then_some(key), l, 30));
            }
        }
        for n in notes {
            for l in wrap(&n, 40) {
                lines.push((None, l, 8));
            }
        }
        let top = py.start;
        let bottom = (top + 12 + 18 * lines.len() as i32).min(height as i32 - 5);
        root.draw(&Rectangle::new([(x0, top), (x1, bottom)], WHITE.filled()))?;
        root.draw(&Rectangle::new(
            [(x0, top), (x1, bottom)],
            BLACK.stroke_width(1),
        ))?;
        for (i, (key, text, indent)) in lines.iter().enumerate() {
            let y = top + 8 + 18 * i as i32;
            let cy = y + 6;
            match key {
                Some(LegendKey::Dot(c)) => root.draw(&Circle::new((x0 + 14, cy), 5, c.filled()))?,
                Some(LegendKey::Hollow) => {
                    root.draw(&Circle::new((x0 + 14, cy), 5, BLACK.stroke_width(2)))?
                }
                Some(LegendKey::Ring) => {
                    root.draw(&Circle::new((x0 + 14, cy), 8, BLACK.stroke_width(2)))?
                }
                Some(LegendKey::Line) => root.draw(&PathElement::new(
                    vec![(x0 + 4, cy), (x0 + 24, cy)],
                    THRESHOLD.stroke_width(1),
                ))?,
                None => {}
            }
            root.draw(&Text::new(
                text.clone(),
                (x0 + indent, y),
                ("sans-serif", 12),
            ))?;
        }
        Ok(())
    })
}

/// A legend row's key.
#[derive(Clone, Copy, Debug)]
enum LegendKey {
    /// A filled dot in a strategy's colour.
    Dot(RGBColor),
    /// A hollow dot: fails a threshold.
    Hollow,
    /// A ring: lost changes.
    Ring,
    /// A threshold line.
    Line,
}

/// A point's label on the frontier: its name, `(thin)` when its webhooks
/// carry thin payloads, and how many changes it lost.
fn point_text(p: &PlotPoint) -> String {
    let mut t = p.label.clone();
    if p.fetches > 0.0 {
        t.push_str(" (thin)");
    }
    if p.lost > 0.0 {
        let n = if p.lost.fract() == 0.0 {
            super::table::fmt_count(p.lost)
        } else {
            format!("{:.1} (mean)", p.lost)
        };
        t.push_str(&format!(", lost {n}"));
    }
    t
}

/// Loss and recovery rate against reconciliation period (hybrid points),
/// with webhook-only loss as a reference line.
pub fn loss_vs_cadence(points: &[PlotPoint]) -> Result<String, PlotError> {
    let mut hybrid: Vec<(f64, f64, f64)> = points
        .iter()
        .filter_map(|p| {
            p.reconcile_every_min
                .map(|c| (c, p.loss * 100.0, p.recovery * 100.0))
        })
        .collect();
    hybrid.sort_by(|a, b| a.0.total_cmp(&b.0));
    let webhook = points
        .iter()
        .find(|p| p.strategy == "webhook")
        .map(|p| p.loss * 100.0);
    let xmax = hybrid.iter().map(|h| h.0).fold(60.0, f64::max) * 1.1;
    let ymax = hybrid
        .iter()
        .flat_map(|h| [h.1, h.2])
        .chain(webhook)
        .fold(1.0, f64::max)
        * 1.2;
    draw(Plot::LossVsCadence, |root| {
        let mut chart = chart(
            root,
            "Loss against reconciliation cadence",
            0f64..xmax,
            0f64..ymax,
        )?;
        chart
            .configure_mesh()
            .x_desc("reconcile every (minutes)")
            .y_desc("% of changes")
            .draw()?;
        let green = colour("hybrid");
        let series = chart.draw_series(LineSeries::new(
            hybrid.iter().map(|h| (h.0, h.1)),
            green.stroke_width(2),
        ))?;
        label(series, "hybrid: lost", Key::Line, green);
        chart.draw_series(
            hybrid
                .iter()
                .map(|h| Circle::new((h.0, h.1), 5, green.filled())),
        )?;
        let olive = RGBColor(140, 140, 20);
        let series = chart.draw_series(LineSeries::new(
            hybrid.iter().map(|h| (h.0, h.2)),
            olive.stroke_width(2),
        ))?;
        label(
            series,
            "hybrid: first seen by reconciliation",
            Key::Line,
            olive,
        );
        if let Some(w) = webhook {
            let blue = colour("webhook");
            let series = chart.draw_series(LineSeries::new(
                vec![(0.0, w), (xmax, w)],
                blue.stroke_width(2),
            ))?;
            label(series, "webhooks alone: lost", Key::Line, blue);
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// Latency percentiles (p50 … max) of every point, coloured by strategy.
pub fn latency(points: &[PlotPoint]) -> Result<String, PlotError> {
    const NAMES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];
    let ymax = points
        .iter()
        .flat_map(|p| p.latency.iter().flatten())
        .fold(1.0f64, |a, b| a.max(*b))
        / 1000.0
        * 2.0;
    draw(Plot::Latency, |root| {
        let mut chart = chart(
            root,
            "Latency distribution per configuration",
            0f64..4.5f64,
            (0.01f64..ymax).log_scale(),
        )?;
        chart
            .configure_mesh()
            .x_labels(5)
            .x_label_formatter(&|x| {
                NAMES
                    .get(x.round() as usize)
                    .map_or(String::new(), |s| s.to_string())
            })
            .x_desc("percentile")
            .y_desc("lag (seconds, log)")
            .draw()?;
        let mut labelled = std::collections::BTreeSet::new();
        for p in points {
            let c = colour(&p.strategy);
            let line: Vec<(f64, f64)> = p
                .latency
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|ms| (i as f64, (ms / 1000.0).max(0.01))))
                .collect();
            let series = chart.draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))?;
            if labelled.insert(p.strategy.clone()) {
                label(series, &p.strategy, Key::Line, c);
            }
            if let Some(last) = line.last() {
                chart.draw_series(std::iter::once(Text::new(
                    p.label.clone(),
                    (last.0 + 0.05, last.1),
                    ("sans-serif", 11),
                )))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}
