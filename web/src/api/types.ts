// The API's types, generated from ../docs/openapi.json (see gen-api.mjs). Nothing here is written
// by hand.
import type { components, paths } from './schema.gen';

export type Schemas = components['schemas'];
export type Paths = paths;
export type RunView = Schemas['RunView'];
export type RunSummary = Schemas['RunSummary'];
export type RunList = Schemas['RunList'];
export type StepView = Schemas['StepView'];
export type LogLine = Schemas['LogLineView'];
export type LogPage = Schemas['LogPage'];
export type WorkflowSummary = Schemas['WorkflowSummaryView'];
export type WorkflowRevision = Schemas['WorkflowRevisionView'];
export type RevisionList = Schemas['RevisionList'];
export type WorkflowSaved = Schemas['WorkflowSaved'];
export type ComponentSummary = Schemas['ComponentSummary'];
export type ComponentView = Schemas['ComponentView'];
export type ComponentVersionsView = Schemas['ComponentVersions'];
export type ParamView = Schemas['ParamView'];
export type Diagnostic = Schemas['DiagnosticView'];
export type ValidateResult = Schemas['ValidateResult'];
export type RunCreated = Schemas['RunCreated'];
export type ErrorBody = Schemas['ErrorBody'];
export type DashboardView = Schemas['DashboardView'];
export type WorkflowGraphView = Schemas['WorkflowGraph'];


/** The answer of `/api/v1/session` (POST and GET). */
export type Session = Schemas['SessionView'];
