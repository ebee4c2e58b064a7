"""Read-only questions about leads and the agent's work, for the admin and the API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from conversations.models import AgentRun, Lead, Stage

# A lead counts as qualified once the agent finished with it or sales took it further.
QUALIFIED_STAGES = (Stage.QUALIFIED, Stage.HANDED_OFF, Stage.WON)


@dataclass(frozen=True)
class AgentCostSummary:
    total_cost: Decimal
    turns: int
    leads: int
    qualified_leads: int

    @property
    def cost_per_lead(self) -> Decimal | None:
        return (self.total_cost / self.leads).quantize(Decimal("0.0001")) if self.leads else None

    @property
    def cost_per_qualified_lead(self) -> Decimal | None:
        if not self.qualified_leads:
            return None
        return (self.total_cost / self.qualified_leads).quantize(Decimal("0.0001"))


def agent_cost_summary(leads=None) -> AgentCostSummary:
    """What the agent cost in all (or for the given leads), per lead and per qualified lead.

    Leads count when the agent ran at least one turn for them: a lead the bot never spoke to
    costs nothing and would flatter the average.
    """
    runs = AgentRun.objects.all()
    if leads is not None:
        runs = runs.filter(conversation__lead__in=leads)
    totals = runs.aggregate(total=Sum("cost"), turns=Count("id"))
    served = Lead.objects.filter(conversations__agent_runs__in=runs).distinct()
    counts = served.aggregate(
        leads=Count("id", distinct=True), qualified=Count("id", distinct=True, filter=Q(stage__in=QUALIFIED_STAGES))
    )
    return AgentCostSummary(
        total_cost=totals["total"] or Decimal("0"),
        turns=totals["turns"] or 0,
        leads=counts["leads"] or 0,
        qualified_leads=counts["qualified"] or 0,
    )
