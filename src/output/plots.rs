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

    /// The SVG of this plot of `points`.
    pub fn render(self, points: &[PlotPoint]) -> Result<String, PlotError> {
        match self {
            Plot::Frontier => frontier(points),
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
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
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
    /// A filled dot (scatter series).
    Dot,
    /// A short thick line (line series).
    Line,
}

/// Names `series` in the legend, with a key in `colour`.
fn label(series: &mut SeriesAnno<'_, SVGBackend<'_>>, name: &str, key: Key, colour: RGBColor) {
    let series = series.label(name);
    match key {
        Key::Dot => series.legend(move |(x, y)| Circle::new((x, y), 5, colour.filled())),
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

/// Requests per mailbox-day (log scale) against p99 latency (minutes),
/// one labelled point per configuration, coloured by strategy.
pub fn frontier(points: &[PlotPoint]) -> Result<String, PlotError> {
    let xs: Vec<f64> = points.iter().map(|p| p.cost.max(0.1)).collect();
    let ys: Vec<f64> = points
        .iter()
        .map(|p| p.latency[2].unwrap_or(0.0) / 60_000.0)
        .collect();
    let xmax = xs.iter().cloned().fold(1.0, f64::max) * 2.0;
    let ymax = ys.iter().cloned().fold(1.0, f64::max) * 1.15;
    draw(Plot::Frontier, |root| {
        let mut chart = chart(
            root,
            "Cost vs freshness: requests per mailbox-day against p99 lag",
            (0.05f64..xmax).log_scale(),
            0f64..ymax,
        )?;
        chart
            .configure_mesh()
            .x_desc("requests per mailbox-day (log; webhooks alone cost none: shown at 0.1)")
            .y_desc("p99 lag (minutes)")
            .draw()?;
        for s in STRATEGIES {
            let mine: Vec<(f64, f64, &str)> = points
                .iter()
                .zip(xs.iter().zip(&ys))
                .filter(|(p, _)| p.strategy == s)
                .map(|(p, (x, y))| (*x, *y, p.label.as_str()))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let c = colour(s);
            let series = chart.draw_series(
                mine.iter()
                    .map(|(x, y, _)| Circle::new((*x, *y), 6, c.filled())),
            )?;
            label(series, s, Key::Dot, c);
            chart.draw_series(
                mine.iter()
                    .map(|(x, y, l)| Text::new(l.to_string(), (*x, *y), ("sans-serif", 12))),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
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
