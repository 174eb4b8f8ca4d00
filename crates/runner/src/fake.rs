//! In-memory backends: for the driver's tests and the engine benchmark. Never used for real runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use co_backend::{
    Backend, BackendError, CancellationToken, OutputSink, StepExit, StepLaunch, Stream, Workspace,
};

/// What a fake step does.
#[derive(Debug, Clone, Default)]
pub struct FakeStep {
    /// Output to print, in order.
    pub output: Vec<(Stream, String)>,
    pub exit_code: i64,
    /// Run until cancelled.
    pub hang: bool,
    /// Fail as the backend would (e.g. a missing image).
    pub error: Option<BackendError>,
    /// Before exiting, wait for (and take) one permit of this semaphore: the test decides when
    /// the step ends.
    pub hold: Option<Arc<tokio::sync::Semaphore>>,
}

type Script = Box<dyn Fn(&StepLaunch) -> FakeStep + Send + Sync>;

/// A backend whose steps do what a script says.
pub struct FakeBackend {
    script: Script,
    /// Every launch, in order.
    pub launches: Mutex<Vec<StepLaunch>>,
    /// Every reattach asked for, in order (the fake never finds the container).
    pub reattaches: Mutex<Vec<StepLaunch>>,
    /// Workspaces created and not yet finished.
    pub open_workspaces: Mutex<Vec<String>>,
    /// Steps running now (started, not returned); watch it to wait for a number.
    pub running: tokio::sync::watch::Sender<usize>,
    /// Most steps running at once so far.
    pub peak: AtomicUsize,
}

impl FakeBackend {
    pub fn new(script: impl Fn(&StepLaunch) -> FakeStep + Send + Sync + 'static) -> FakeBackend {
        FakeBackend {
            script: Box::new(script),
            launches: Mutex::new(Vec::new()),
            reattaches: Mutex::new(Vec::new()),
            open_workspaces: Mutex::new(Vec::new()),
            running: tokio::sync::watch::Sender::new(0),
            peak: AtomicUsize::new(0),
        }
    }
}

impl FakeBackend {
    /// A started fake step: its output, then its end.
    async fn follow(
        &self,
        step: &FakeStep,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> StepExit {
        for (stream, text) in &step.output {
            sink.output(*stream, text.as_bytes()).await;
            sink.output(*stream, b"\n").await;
        }
        if step.hang {
            cancel.cancelled().await;
            return StepExit::STOPPED;
        }
        if let Some(hold) = &step.hold {
            tokio::select! {
                permit = hold.acquire() => {
                    if let Ok(permit) = permit {
                        permit.forget();
                    }
                }
                _ = cancel.cancelled() => return StepExit::STOPPED,
            }
        }
        StepExit::exited(step.exit_code)
    }
}

#[async_trait]
impl Backend for FakeBackend {
    fn name(&self) -> &str {
        "fake"
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        let name = format!("fake-ws-{run_id}");
        if let Ok(mut open) = self.open_workspaces.lock() {
            open.push(name.clone());
        }
        Ok(Workspace {
            run_id: run_id.to_string(),
            name,
        })
    }

    async fn run_step(
        &self,
        launch: &StepLaunch,
        _workspace: &Workspace,
        sink: &mut dyn OutputSink,
        cancel: CancellationToken,
    ) -> Result<StepExit, BackendError> {
        if let Ok(mut launches) = self.launches.lock() {
            launches.push(launch.clone());
        }
        let step = (self.script)(launch);
        if let Some(error) = step.error {
            return Err(error);
        }
        sink.started(&format!("fake-{}-{}", launch.step_key, launch.attempt));
        self.running.send_modify(|n| {
            *n += 1;
            self.peak.fetch_max(*n, Ordering::SeqCst);
        });
        let exit = self.follow(&step, sink, cancel).await;
        self.running.send_modify(|n| *n = n.saturating_sub(1));
        Ok(exit)
    }

    async fn reattach(
        &self,
        launch: &StepLaunch,
        _workspace: &Workspace,
        _sink: &mut dyn OutputSink,
        _cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError> {
        if let Ok(mut reattaches) = self.reattaches.lock() {
            reattaches.push(launch.clone());
        }
        Ok(None)
    }

    async fn finish_run(&self, workspace: &Workspace) -> Result<(), BackendError> {
        if let Ok(mut open) = self.open_workspaces.lock() {
            open.retain(|w| w != &workspace.name);
        }
        Ok(())
    }
}

/// A backend whose every step succeeds at once with no output (the engine benchmark).
pub struct NoopBackend;

#[async_trait]
impl Backend for NoopBackend {
    fn name(&self) -> &str {
        "noop"
    }

    /// Nothing runs anywhere: no cap (the engine benchmark measures the driver, not slots).
    fn default_parallel_steps(&self) -> usize {
        usize::MAX
    }

    async fn create_workspace(&self, run_id: &str) -> Result<Workspace, BackendError> {
        Ok(Workspace {
            run_id: run_id.to_string(),
            name: String::new(),
        })
    }

    async fn run_step(
        &self,
        _launch: &StepLaunch,
        _workspace: &Workspace,
        sink: &mut dyn OutputSink,
        _cancel: CancellationToken,
    ) -> Result<StepExit, BackendError> {
        sink.started("noop");
        Ok(StepExit::exited(0))
    }

    async fn reattach(
        &self,
        _launch: &StepLaunch,
        _workspace: &Workspace,
        _sink: &mut dyn OutputSink,
        _cancel: CancellationToken,
    ) -> Result<Option<StepExit>, BackendError> {
        Ok(None)
    }

    async fn finish_run(&self, _workspace: &Workspace) -> Result<(), BackendError> {
        Ok(())
    }
}
