//! ARCHITECTURE.md's "add a capability" walk-through, followed in miniature: a `counter`
//! capability is one module-shaped item (a unit struct with the [`HostCapability`]
//! lifecycle, its configuration, and its import working on a [`View`]) plus one entry in a
//! list. The same [`prepare_granted`] and [`link_granted`] the runtime uses compose it with
//! every capability the host provides, and a real component calls it. Nothing else changes.

use std::sync::Arc;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreContextMut};

use super::*;
use crate::crypto::{KeyService, MasterKeys};
use crate::manifest::Manifest;

/// Step 1: the capability.
struct Counter;

/// What its requests share, prepared at install.
struct CounterConfig {
    start: u32,
}

impl<T: CapabilityHost> HostCapability<T> for Counter {
    fn grant(&self) -> Option<Capability> {
        None
    }

    fn prepare(
        &self,
        decl: &ComponentDecl,
        _install: &Install<'_>,
        configs: &mut CapabilityConfigs,
    ) -> Result<(), String> {
        let start = u32::try_from(decl.name.len()).map_err(|e| e.to_string())?;
        configs.insert(CounterConfig { start });
        Ok(())
    }

    fn link(&self, linker: &mut Linker<T>) -> wasmtime::Result<()> {
        linker.instance("mindflow:demo/counter")?.func_wrap(
            "next",
            |mut store: StoreContextMut<'_, T>, (): ()| {
                let view = view::<T, CounterConfig>(store.data_mut());
                // The shared configuration, and the request's own context.
                let step = u32::try_from(view.ctx.request_id.len())?;
                Ok((view.config()?.start + step,))
            },
        )
    }
}

/// A component importing `mindflow:demo/counter` and calling it twice.
const COMPONENT: &str = r#"
(component
  (import "mindflow:demo/counter" (instance $counter (export "next" (func (result u32)))))
  (core func $next (canon lower (func $counter "next")))
  (core module $m
    (import "counter" "next" (func $next (result i32)))
    (func (export "run") (result i32) (i32.add (call $next) (call $next))))
  (core instance $i (instantiate $m (with "counter" (instance (export "next" (func $next))))))
  (func (export "run") (result u32) (canon lift (core func $i "run"))))
"#;

/// A store's data for the test, as the runtime's `RequestState` is for requests.
struct TestHost {
    context: RequestContext,
    configs: Arc<CapabilityConfigs>,
}

impl CapabilityHost for TestHost {
    fn capability_parts(&mut self) -> (&mut RequestContext, &CapabilityConfigs) {
        (&mut self.context, &self.configs)
    }
}

#[tokio::test]
async fn a_capability_is_a_module_and_a_line_in_the_list() {
    let (db, dir) = crate::db::testing::sqlite().await;
    let bytes = wat::parse_str(COMPONENT).expect("wat");
    std::fs::write(dir.path().join("demo.wasm"), &bytes).expect("write");
    let manifest = Manifest::parse(
        "spin_manifest_version = 2\n[application]\nname = \"t\"\n[[trigger.http]]\nroute = \"/demo/...\"\ncomponent = \"demo\"\n[component.demo]\nsource = \"demo.wasm\"\n[component.demo.tool.mindflow]\ncapabilities = [\"context\"]\n",
        dir.path(),
    )
    .expect("manifest");
    let decl = &manifest.components["demo"];
    let keys = KeyService::new(db.clone(), MasterKeys::new(&[7; 32], &[]));
    let services = HostServices::new(
        db,
        keys,
        "moderate",
        crate::crisis::semantic::from_environment(),
    )
    .expect("services");
    let app_variables = HashMap::new();
    let install = Install {
        services: &services,
        app_variables: &app_variables,
    };
    let engine = Engine::new(&Config::new()).expect("engine");
    let component = Component::new(&engine, &bytes).expect("component");

    // Step 2: one line in the list.
    let list: Vec<&'static dyn HostCapability<TestHost>> = provided::<TestHost>()
        .into_iter()
        .chain([&Counter as &'static dyn HostCapability<TestHost>])
        .collect();

    let configs = prepare_granted(&list, decl, &install).expect("prepare");
    let mut linker = Linker::new(&engine);
    link_granted(&list, decl, &mut linker).expect("link");
    let mut store = Store::new(
        &engine,
        TestHost {
            context: RequestContext {
                request_id: "abc".into(),
                ..RequestContext::default()
            },
            configs,
        },
    );
    let instance = linker
        .instantiate_async(&mut store, &component)
        .await
        .expect("instantiate");
    let run = instance
        .get_typed_func::<(), (u32,)>(&mut store, "run")
        .expect("run");
    let (answer,) = run.call_async(&mut store, ()).await.expect("call");
    // Twice the configuration prepared at install ("demo": 4) plus the request's id ("abc": 3).
    assert_eq!(answer, 2 * (4 + 3));

    // Without its line in the list, the import is not provided and the component cannot be
    // instantiated.
    let mut linker = Linker::new(&engine);
    link_granted(&provided::<TestHost>(), decl, &mut linker).expect("link");
    let mut store = Store::new(
        &engine,
        TestHost {
            context: RequestContext::default(),
            configs: prepare_granted(&provided::<TestHost>(), decl, &install).expect("prepare"),
        },
    );
    let Err(error) = linker.instantiate_async(&mut store, &component).await else {
        panic!("the component was instantiated without its import");
    };
    assert!(
        format!("{error:#}").contains("mindflow:demo/counter"),
        "{error:#}"
    );
}
