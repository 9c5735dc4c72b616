//! The parser floor for `cargo xtask bench`: quick-xml's bare event loop over a file, doing
//! nothing with the events. brulee's own parse is measured against it.

use std::io::BufReader;

use quick_xml::events::Event;
use quick_xml::Reader;

fn main() {
    let path = std::env::args().nth(1).expect("usage: xml_floor FILE.xml");
    let file = std::fs::File::open(&path).expect("the file opens");
    let mut reader = Reader::from_reader(BufReader::with_capacity(64 * 1024, file));
    let mut buf = Vec::new();
    let mut events: u64 = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(_) => events += 1,
            Err(err) => panic!("{path}: {err}"),
        }
        buf.clear();
    }
    println!("{events} events");
}
