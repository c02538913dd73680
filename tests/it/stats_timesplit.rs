//! Splitting follow-up at an exposure (tmerge/tdc conventions) and landmark data sets,
//! hand-worked.

use hemosurv::stats::timesplit::{landmark, split_at_exposure, Interval};

fn iv(subject: usize, start: f64, stop: f64, event: bool, exposed: bool) -> Interval {
    Interval { subject, start, stop, event, exposed }
}

#[test]
fn split_follows_tdc_conventions() {
    // 0: exposed at 3 of 10, dies at 10      -> (0,3] unexposed, (3,10] exposed + event
    // 1: never exposed, censored at 5        -> (0,5] unexposed
    // 2: exposed at 0, dies at 4             -> (0,4] exposed + event
    // 3: exposed at 7 = death time           -> (0,7] unexposed + event (does not count)
    // 4: exposed at 9 after censoring at 6   -> (0,6] unexposed, no event
    // 5: exposed at 2.5, censored at 8       -> (0,2.5] unexposed, (2.5,8] exposed, no event
    let time = [10.0, 5.0, 4.0, 7.0, 6.0, 8.0];
    let event = [true, false, true, true, false, false];
    let expo = [Some(3.0), None, Some(0.0), Some(7.0), Some(9.0), Some(2.5)];
    let got = split_at_exposure(&time, &event, &expo).unwrap();
    let want = vec![
        iv(0, 0.0, 3.0, false, false),
        iv(0, 3.0, 10.0, true, true),
        iv(1, 0.0, 5.0, false, false),
        iv(2, 0.0, 4.0, true, true),
        iv(3, 0.0, 7.0, true, false),
        iv(4, 0.0, 6.0, false, false),
        iv(5, 0.0, 2.5, false, false),
        iv(5, 2.5, 8.0, false, true),
    ];
    assert_eq!(got, want);
    // Invariants: one event per dead subject, intervals tile (0, time], sorted by subject.
    for (i, &t) in time.iter().enumerate() {
        let parts: Vec<&Interval> = got.iter().filter(|x| x.subject == i).collect();
        assert_eq!(parts.first().unwrap().start, 0.0);
        assert_eq!(parts.last().unwrap().stop, t);
        assert!(parts.windows(2).all(|w| w[0].stop == w[1].start));
        assert_eq!(parts.iter().filter(|x| x.event).count(), usize::from(event[i]));
        assert!(parts.iter().all(|x| x.stop > x.start));
    }
    assert!(got.windows(2).all(|w| w[0].subject <= w[1].subject));
}

#[test]
fn exposed_person_time_adds_up() {
    let time = [10.0, 5.0, 4.0, 7.0];
    let event = [true, false, true, true];
    let expo = [Some(3.0), None, Some(0.0), Some(7.0)];
    let got = split_at_exposure(&time, &event, &expo).unwrap();
    let exposed: f64 = got.iter().filter(|x| x.exposed).map(|x| x.stop - x.start).sum();
    let unexposed: f64 = got.iter().filter(|x| !x.exposed).map(|x| x.stop - x.start).sum();
    assert_eq!(exposed, 7.0 + 4.0);
    assert_eq!(unexposed, 3.0 + 5.0 + 7.0);
    assert_eq!(exposed + unexposed, time.iter().sum::<f64>());
}

#[test]
fn split_rejects_bad_input() {
    let e = split_at_exposure(&[5.0, 3.0], &[true, false], &[Some(1.0), Some(-2.0)]).unwrap_err().to_string();
    assert!(e.contains("exposure_time") && e.contains("row 2"), "{e}");
    let e = split_at_exposure(&[5.0, -3.0], &[true, false], &[None, None]).unwrap_err().to_string();
    assert!(e.contains("`time`") && e.contains("row 2"), "{e}");
    let e = split_at_exposure(&[5.0, 0.0], &[true, false], &[None, None]).unwrap_err().to_string();
    assert!(e.contains("`time`") && e.contains("row 2"), "{e}");
    let e = split_at_exposure(&[5.0], &[true, false], &[None]).unwrap_err().to_string();
    assert!(e.contains("`event`"), "{e}");
    let e = split_at_exposure(&[5.0], &[true], &[None, None]).unwrap_err().to_string();
    assert!(e.contains("exposure_time"), "{e}");
    let e = split_at_exposure(&[5.0], &[true], &[Some(f64::NAN)]).unwrap_err().to_string();
    assert!(e.contains("exposure_time") && e.contains("row 1"), "{e}");
    assert_eq!(split_at_exposure(&[], &[], &[]).unwrap(), vec![]);
}

#[test]
fn landmark_keeps_subjects_at_risk_and_resets_time() {
    // Landmark at 30:
    // 0: time 100, exposed at 10  -> kept, 70, exposed
    // 1: time 30 (died at 30)     -> excluded (not at risk after 30)
    // 2: time 45, exposed at 30   -> kept, 15, exposed (at or before the landmark)
    // 3: time 60, exposed at 31   -> kept, 30, unexposed
    // 4: time 12, censored        -> excluded
    // 5: time 80, never exposed   -> kept, 50, unexposed
    let time = [100.0, 30.0, 45.0, 60.0, 12.0, 80.0];
    let event = [true, true, false, true, false, false];
    let expo = [Some(10.0), None, Some(30.0), Some(31.0), None, None];
    let lm = landmark(&time, &event, &expo, 30.0).unwrap();
    assert_eq!(lm.kept, vec![0, 2, 3, 5]);
    assert_eq!(lm.time, vec![70.0, 15.0, 30.0, 50.0]);
    assert_eq!(lm.event, vec![true, false, true, false]);
    assert_eq!(lm.exposed, vec![true, true, false, false]);
    assert_eq!(lm.excluded_dead_or_censored, 2);
    assert_eq!(lm.kept.len() + lm.excluded_dead_or_censored, time.len());

    // Landmark at 0 keeps everyone with time > 0; only exposure at 0 counts.
    let lm0 = landmark(&time, &event, &expo, 0.0).unwrap();
    assert_eq!(lm0.kept.len(), 6);
    assert_eq!(lm0.exposed, vec![false; 6]);
    assert_eq!(lm0.time, time.to_vec());
}

#[test]
fn landmark_rejects_bad_input() {
    let e = landmark(&[1.0], &[true], &[None], -1.0).unwrap_err().to_string();
    assert!(e.contains("`at`"), "{e}");
    let e = landmark(&[1.0], &[true], &[None], f64::NAN).unwrap_err().to_string();
    assert!(e.contains("`at`"), "{e}");
    let e = landmark(&[1.0, f64::NAN], &[true, true], &[None, None], 1.0).unwrap_err().to_string();
    assert!(e.contains("`time`") && e.contains("row 2"), "{e}");
    let e = landmark(&[1.0], &[true], &[Some(-0.5)], 1.0).unwrap_err().to_string();
    assert!(e.contains("exposure_time"), "{e}");
}
