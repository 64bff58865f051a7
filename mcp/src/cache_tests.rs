use std::sync::atomic::AtomicUsize;

use super::*;

const TTL: Duration = Duration::from_secs(60);

fn loaded(value: u32, ttl_hint: Option<Duration>, scope: CacheScope) -> Result<Loaded<u32>, ()> {
    Ok(Loaded {
        value,
        ttl_hint,
        scope,
    })
}

#[tokio::test(start_paused = true)]
async fn hit_until_the_configured_ttl() {
    let cache = ListCache::default();
    let (v, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(1, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!((v, how), (1, Lookup::Miss));
    tokio::time::advance(TTL - Duration::from_secs(1)).await;
    let (v, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(2, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!((v, how), (1, Lookup::Hit));
    tokio::time::advance(Duration::from_secs(2)).await;
    let (v, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(3, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!((v, how), (3, Lookup::Miss));
}

#[tokio::test(start_paused = true)]
async fn server_hint_is_honoured_but_capped() {
    let cache = ListCache::default();
    cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(1, Some(Duration::from_secs(5)), CacheScope::Shared)
        })
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    let (_, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(2, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!(how, Lookup::Miss, "the server's shorter ttlMs wins");

    cache
        .get_or_load(ListKind::Prompts, "k", TTL, || async {
            loaded(1, Some(Duration::from_secs(3600)), CacheScope::Shared)
        })
        .await
        .unwrap();
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    let (_, how) = cache
        .get_or_load(ListKind::Prompts, "k", TTL, || async {
            loaded(2, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!(how, Lookup::Miss, "the configured TTL caps a longer ttlMs");
}

#[tokio::test(start_paused = true)]
async fn private_results_are_not_shared_across_principals() {
    let cache = ListCache::default();
    cache
        .get_or_load(ListKind::Resources, "alice", TTL, || async {
            loaded(1, None, CacheScope::Private)
        })
        .await
        .unwrap();
    let (v, how) = cache
        .get_or_load(ListKind::Resources, "alice", TTL, || async {
            loaded(9, None, CacheScope::Private)
        })
        .await
        .unwrap();
    assert_eq!((v, how), (1, Lookup::Hit));
    let (v, how) = cache
        .get_or_load(ListKind::Resources, "bob", TTL, || async {
            loaded(2, None, CacheScope::Private)
        })
        .await
        .unwrap();
    assert_eq!(
        (v, how),
        (2, Lookup::Miss),
        "bob never sees alice's private list"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_are_coalesced() {
    let cache = Arc::new(ListCache::default());
    let loads = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (cache, loads) = (cache.clone(), loads.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_load(ListKind::Tools, "k", TTL, || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    loaded(7, None, CacheScope::Shared)
                })
                .await
                .unwrap()
                .0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 7);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn invalidation_drops_values_and_stale_loads() {
    let cache = Arc::new(ListCache::default());
    cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(1, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    cache.invalidate(ListKind::Tools);
    let (v, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(2, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!((v, how), (2, Lookup::Miss));

    // A load in flight when the list changes must not store its stale answer.
    let slow = {
        let cache = cache.clone();
        cache.invalidate(ListKind::Tools);
        tokio::spawn(async move {
            cache
                .get_or_load(ListKind::Tools, "k", TTL, || async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    loaded(3, None, CacheScope::Shared)
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    cache.invalidate(ListKind::Tools);
    assert_eq!(
        slow.await.unwrap().unwrap().0,
        3,
        "the caller still gets its answer"
    );
    let (v, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(4, None, CacheScope::Shared)
        })
        .await
        .unwrap();
    assert_eq!((v, how), (4, Lookup::Miss));
}

#[tokio::test(start_paused = true)]
async fn failures_are_not_cached() {
    let cache: ListCache<u32> = ListCache::default();
    let err = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            Err::<Loaded<u32>, _>("down")
        })
        .await;
    assert_eq!(err.unwrap_err(), "down");
    let (v, how) = cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            Ok::<_, &str>(Loaded {
                value: 5,
                ttl_hint: None,
                scope: CacheScope::Shared,
            })
        })
        .await
        .unwrap();
    assert_eq!((v, how), (5, Lookup::Miss));
    assert!(cache.age(ListKind::Tools).is_some());
}

#[tokio::test(start_paused = true)]
async fn freshness_is_what_is_left_of_the_stored_value_and_its_scope() {
    let cache: ListCache<u32> = ListCache::default();
    assert_eq!(
        cache.freshness(ListKind::Tools, "k"),
        None,
        "nothing stored"
    );
    cache
        .get_or_load(ListKind::Tools, "k", TTL, || async {
            loaded(1, Some(Duration::from_secs(10)), CacheScope::Shared)
        })
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(
        cache.freshness(ListKind::Tools, "other"),
        Some((Duration::from_secs(6), CacheScope::Shared))
    );
    cache
        .get_or_load(ListKind::Prompts, "k", TTL, || async {
            loaded(2, Some(Duration::from_secs(3)), CacheScope::Private)
        })
        .await
        .unwrap();
    assert_eq!(
        cache.freshness(ListKind::Prompts, "k"),
        Some((Duration::from_secs(3), CacheScope::Private))
    );
    assert_eq!(cache.freshness(ListKind::Prompts, "other"), None);
    tokio::time::advance(Duration::from_secs(7)).await;
    assert_eq!(cache.freshness(ListKind::Tools, "k"), None, "expired");
}

#[tokio::test]
async fn followers_hear_of_every_invalidation() {
    let cache: ListCache<u32> = ListCache::default();
    let mut changes = cache.changes();
    cache.invalidate(ListKind::Prompts);
    cache.clear();
    assert_eq!(changes.recv().await.unwrap(), ListKind::Prompts);
    let mut after: Vec<ListKind> = Vec::new();
    while let Ok(kind) = changes.try_recv() {
        after.push(kind);
    }
    assert_eq!(after.len(), 4, "clear drops every list: {after:?}");
}
