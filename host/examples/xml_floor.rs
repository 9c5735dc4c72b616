//! The parser floor for `cargo xtask bench`: quick-xml's bare event loop over a file, doing
//! nothing with the events. With `--brulee`, brulee's own streaming parser over the same file
//! instead (every host read into the model, then dropped), to compare the two.

use std::io::BufReader;

use quick_xml::events::Event;
use quick_xml::Reader;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (brulee, path) = match args.as_slice() {
        [flag, path] if flag == "--brulee" => (true, path),
        [path] => (false, path),
        _ => {
            eprintln!("usage: xml_floor [--brulee] FILE.xml");
            std::process::exit(2);
        }
    };
    let file = std::fs::File::open(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let input = BufReader::with_capacity(64 * 1024, file);
    if brulee {
        let mut hosts = 0u64;
        let parsed = brulee::nmap::xml::for_each_host(input, path, |_| {}, |_| hosts += 1);
        if let Err(err) = parsed {
            eprintln!("{err}");
            std::process::exit(1);
        }
        println!("{hosts} hosts");
        return;
    }
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut events: u64 = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(_) => events += 1,
            Err(err) => {
                eprintln!("{path}: {err}");
                std::process::exit(1);
            }
        }
        buf.clear();
    }
    println!("{events} events");
}
