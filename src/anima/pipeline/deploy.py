"""Deploys: the work behind ``:deploy``, run off the request path.

The request stores a pending operation holding the draft as it was (``ResourceRepo.
start_deploy``) and hands its id to ``Deployer.submit``; the answer goes out at once. The job
then claims the operation (a lease, so one worker runs it), validates the snapshot, prepares
derived data, and stores the immutable version in the same transaction that marks the
operation done. A failed deploy stores nothing, so the previous version keeps serving.

Operations left behind by a stopped or crashed process are picked up by the sweep that runs
at start-up and then periodically; after ``MAX_ATTEMPTS`` claims one is failed, so none stays
pending forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from anima.backends.llm import PreparesPrompts
from anima.domain.character import Character, deploy_problems
from anima.domain.knowledge import CommonKnowledge
from anima.domain.limits import STORED
from anima.domain.operation import MAX_ATTEMPTS, Operation, OperationError
from anima.domain.prompt import PromptInput, build_prompt
from anima.domain.resource import ResourceKind, parse_reference
from anima.domain.scene import Scene
from anima.errors import AnimaError, FailedPrecondition, Internal, NotFound
from anima.store import Store
from anima.store.db import to_completion
from anima.store.resources import ResourceRepo

log = logging.getLogger("anima.deploy")

LEASE_SECONDS = 30.0
SWEEP_SECONDS = 15.0


class Preparer(Protocol):
    """A step that builds derived data for a version before it goes live (for example the
    embeddings of common knowledge). Raise an ``AnimaError`` to fail the deploy."""

    async def prepare(self, operation: Operation, resource: BaseModel) -> None: ...


class PersonaState:
    """Has the model evaluate a character version's persona while it deploys (the embedded
    model keeps that state in memory and on disk), so its first player does not wait for it.
    A failure here is logged, never a failed deploy: the first turn evaluates it instead."""

    def __init__(self, llm: PreparesPrompts) -> None:
        self._llm = llm

    async def prepare(self, operation: Operation, resource: BaseModel) -> None:
        if not isinstance(resource, Character):
            return
        try:
            await self._llm.prepare(build_prompt(PromptInput(character=resource)))
        except (AnimaError, OSError, RuntimeError, ValueError) as exc:
            log.warning("could not prepare the persona of %s: %s", operation.resource, exc)


def model_preparers(llm: object) -> list[Preparer]:
    """The preparers a model asks for: ``PersonaState`` when it keeps persona states."""
    return [PersonaState(llm)] if isinstance(llm, PreparesPrompts) else []


class Deployer:
    def __init__(
        self,
        store: Store,
        *,
        preparers: Sequence[Preparer] = (),
        lease_seconds: float = LEASE_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._store = store
        self.preparers: list[Preparer] = list(preparers)  # run in order on every deploy
        self._lease = lease_seconds
        self._sweep_every = sweep_seconds
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def _repo(self, kind: ResourceKind) -> ResourceRepo[Any, Any]:
        repos: dict[ResourceKind, ResourceRepo[Any, Any]] = {
            ResourceKind.CHARACTER: self._store.characters,
            ResourceKind.SCENE: self._store.scenes,
            ResourceKind.COMMON_KNOWLEDGE: self._store.knowledge,
        }
        return repos[kind]

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        """Resume or fail what earlier processes left, then keep sweeping in the background."""
        await self.sweep()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="anima-deploy-sweep")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def submit(self, operation: Operation) -> None:
        """Run ``operation`` in the background of this process."""
        if operation.id in self._tasks:
            return
        task = asyncio.create_task(self.run(operation.id), name=f"anima-deploy-{operation.id}")
        self._tasks[operation.id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(operation.id, None))

    async def wait(self) -> None:
        """Until every job this process started has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def sweep(self) -> None:
        for op in await self._store.operations.unfinished():
            if op.attempts >= MAX_ATTEMPTS:
                await self._store.operations.fail(
                    op.id,
                    OperationError.from_exception(
                        Internal(
                            f"the deploy was interrupted {op.attempts} times "
                            "(the serving process stopped while it ran); deploy again"
                        )
                    ),
                )
            elif op.id not in self._tasks:
                self.submit(op)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep()
            except AnimaError as exc:
                log.warning("deploy sweep failed: %s", exc)

    # -- one job ------------------------------------------------------------

    async def run(self, operation_id: str) -> None:
        op = await self._store.operations.claim(operation_id, self._lease)
        if op is None:
            return  # done already, or another worker holds it
        renewer = asyncio.create_task(self._renew(op.id))
        try:
            await self._execute(op)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await to_completion(self._store.operations.release(op.id))
            raise
        except AnimaError as exc:
            if exc.retryable and op.attempts < MAX_ATTEMPTS:
                log.warning("deploy %s hit a transient error, will retry: %s", op.name, exc)
                return  # the lease runs out and a sweep claims it again
            await self._store.operations.fail(op.id, OperationError.from_exception(exc))
        except Exception as exc:
            log.exception("deploy %s failed unexpectedly", op.name)
            try:
                await self._store.operations.fail(
                    op.id,
                    OperationError.from_exception(Internal(f"deploy failed: {type(exc).__name__}")),
                )
            except Exception:  # the store itself is failing: the lease lapses, a sweep retries
                log.exception("could not record the failure of %s", op.name)
        finally:
            renewer.cancel()

    async def _renew(self, operation_id: str) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            await self._store.operations.renew(operation_id, self._lease)

    async def _execute(self, op: Operation) -> None:
        repo = self._repo(op.kind)
        resource = _model(op.kind).model_validate(op.snapshot, context=STORED)
        problems = await self._problems(op, resource)
        if problems:
            raise FailedPrecondition(
                f"{op.resource} cannot be deployed: " + "; ".join(p for _, p in problems),
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
                        "violations": [
                            {"type": "INVALID", "subject": subject, "description": text}
                            for subject, text in problems
                        ],
                    }
                ],
            )
        for preparer in self.preparers:
            await preparer.prepare(op, resource)
        if await repo.finish_deploy(op, resource) is None:
            raise NotFound(f"{op.resource} was deleted while it was being deployed")
        log.info("deployed %s version %d", op.resource, op.version)

    async def _problems(self, op: Operation, resource: BaseModel) -> list[tuple[str, str]]:
        """(field, description) for everything that stops this snapshot from deploying."""
        problems: list[tuple[str, str]] = []
        knowledge_refs: list[str] = []
        if isinstance(resource, Character):
            problems += deploy_problems(resource)
            knowledge_refs = resource.common_knowledge
        elif isinstance(resource, Scene):
            knowledge_refs = resource.common_knowledge
            problems += await self._missing(
                op.workspace,
                ResourceKind.CHARACTER,
                [c.character for c in resource.characters],
                "characters[{i}].character",
            )
        problems += await self._missing(
            op.workspace, ResourceKind.COMMON_KNOWLEDGE, knowledge_refs, "commonKnowledge[{i}]"
        )
        return problems

    async def _missing(
        self, workspace: str, kind: ResourceKind, refs: list[str], field: str
    ) -> list[tuple[str, str]]:
        ids = [parse_reference(ref, workspace, kind) for ref in refs]
        found = await self._repo(kind).existing(workspace, [i for i in ids if i])
        out = []
        for i, (ref, rid) in enumerate(zip(refs, ids, strict=True)):
            if rid is None or rid not in found:
                where = field.format(i=i)
                out.append(
                    (where, f"{where} '{ref}' does not name a {kind.singular} of this workspace")
                )
        return out


def _model(kind: ResourceKind) -> type[BaseModel]:
    models: dict[ResourceKind, type[BaseModel]] = {
        ResourceKind.CHARACTER: Character,
        ResourceKind.SCENE: Scene,
        ResourceKind.COMMON_KNOWLEDGE: CommonKnowledge,
    }
    return models[kind]
