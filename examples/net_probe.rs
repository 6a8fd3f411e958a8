//! Scratch probe (removed before merge).
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let tick: u64 = std::env::args().nth(2).map_or(10, |t| t.parse().unwrap());
    let s = syncsim::load(std::path::Path::new(&path)).unwrap();
    let des = syncsim::run(&s);
    let t = std::time::Instant::now();
    let opts = syncsim::net::NetOptions { tick: std::time::Duration::from_millis(tick), ..Default::default() };
    let run = syncsim::net::run_reference(s.config(), &opts).unwrap();
    eprintln!("wall {:.2}s steps {}", t.elapsed().as_secs_f64(), run.steps);
    let r = &run.report;
    println!("net lost {} applied {} gen {} | des lost {} applied {}", r.changes.lost, r.changes.applied, r.changes.generated, des.changes.lost, des.changes.applied);
    println!("net req {:?}\ndes req {:?}", r.requests, des.requests);
    println!("net hooks {:?}\ndes hooks {:?}", r.webhooks, des.webhooks);
    println!("net {:?}", r.net);
    println!("net faults {:?}\ndes faults {:?}", r.faults, des.faults);
    for l in run.lost.iter().take(20) { println!("lost {l}"); }
}
