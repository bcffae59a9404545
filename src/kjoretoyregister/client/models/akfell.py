"""
Typed models of SVV's akfell API (akfell-datautlevering), written from its OpenAPI schemas
(svv-api.md §2.3, §4.1, §4.4, §9).

The vehicle is the v2 model reduced to akfell's "Begrenset" variants: the technical part
(``Godkjenning``, ``Kjennemerke``, …) is the v2 model (akfell's few extra WLTP fields are kept
as extra fields, as every ``SvvModel`` keeps unknown fields); the identity, the owners and the
person names are the reduced ones, with no ``kundeId``, no ``fodselsnummer``.

Round-trip promise as for the v2 models: ``model_validate(raw).model_dump(mode="json",
exclude_unset=True, by_alias=True) == raw``.
"""

from __future__ import annotations

from pydantic import Field

from kjoretoyregister.client.models._base import SvvDateTime, SvvModel
from kjoretoyregister.client.models._v2 import (
    Adresse,
    Enhet,
    Forstegangsregistrering,
    Generelt,
    Godkjenning,
    Kjennemerke,
    PeriodiskKjoretoyKontroll,
    Registrering,
)

__all__ = [
    "EierskapBegrenset",
    "EnkeltOppslagKjoretoydata",
    "FodselsnummerRequest",
    "FodselsnummerResponse",
    "KjennemerkeBulkResponse",
    "KjennemerkeRequest",
    "KjennemerkeResponse",
    "KjoretoyBegrenset",
    "KjoretoyIdentitetBegrenset",
    "KjoretoydataResponse",
    "KjoretoydataWrapper",
    "KuidBulkResponse",
    "KuidRequest",
    "KuidResponse",
    "OrganisasjonsnummerRequest",
    "OrganisasjonsnummerResponse",
    "PersonEnhetBegrenset",
    "PersonnavnMedFodselsdato",
    "RegistreringAkfell",
    "UnderstellsnummerBulkResponse",
    "UnderstellsnummerRequest",
    "UnderstellsnummerResponse",
    "UnderstellsnummerTreffWrapper",
]


class KjoretoyIdentitetBegrenset(SvvModel):
    """akfell's ``KjoretoyIdentitetBegrenset``."""

    kjennemerke: str | None = None
    understellsnummer: str | None = None
    kuid: str | None = None


class PersonnavnMedFodselsdato(SvvModel):
    """A person's name and birth date; akfell gives no fødselsnummer."""

    fornavn: str | None = None
    mellomnavn: str | None = None
    etternavn: str | None = None
    fodselsdato: str | None = None


class PersonEnhetBegrenset(SvvModel):
    """akfell's ``PersonEnhetBegrenset``: a person or an organisation in a role."""

    adresse: Adresse | None = None
    enhet: Enhet | None = None
    person: PersonnavnMedFodselsdato | None = None
    fom_tidspunkt: SvvDateTime | None = Field(default=None, alias="fomTidspunkt")
    til_tidspunkt: SvvDateTime | None = Field(default=None, alias="tilTidspunkt")

    @property
    def navn(self) -> str | None:
        """The organisation's name, or the person's full name."""
        if self.enhet is not None and self.enhet.organisasjonsnavn:
            return self.enhet.organisasjonsnavn
        if self.person is None:
            return None
        parts = (self.person.fornavn, self.person.mellomnavn, self.person.etternavn)
        return " ".join(p for p in parts if p) or None


class EierskapBegrenset(SvvModel):
    """akfell's ``EierskapBegrenset``."""

    eier: PersonEnhetBegrenset | None = None
    medeier: PersonEnhetBegrenset | None = None
    leasingtaker: PersonEnhetBegrenset | None = None
    underenhet: PersonEnhetBegrenset | None = None
    vedtakstidspunkt: SvvDateTime | None = None


class RegistreringAkfell(Registrering):
    """akfell's ``Registrering``: v2's plus ``avregistrertSidenDato``."""

    avregistrert_siden_dato: SvvDateTime | None = Field(default=None, alias="avregistrertSidenDato")


class EnkeltOppslagKjoretoydata(SvvModel):
    """A vehicle without owner data (the enkeltoppslag's ``EnkeltOppslagKjoretoydata``)."""

    kjoretoy_id: KjoretoyIdentitetBegrenset | None = Field(default=None, alias="kjoretoyId")
    forstegangsregistrering: Forstegangsregistrering | None = None
    kjennemerker: list[Kjennemerke] | None = Field(default=None, alias="kjennemerke")
    registrering: RegistreringAkfell | None = None
    godkjenning: Godkjenning | None = None
    periodisk_kjoretoy_kontroll: PeriodiskKjoretoyKontroll | None = Field(
        default=None, alias="periodiskKjoretoyKontroll"
    )

    @property
    def kjennemerke(self) -> str | None:
        """The plate as SVV formats it (``"CU 11297"``)."""
        return None if self.kjoretoy_id is None else self.kjoretoy_id.kjennemerke

    @property
    def merke(self) -> str | None:
        """The make, e.g. ``"BMW"``."""
        generelt = _generelt(self.godkjenning)
        merker = None if generelt is None else generelt.merke
        return merker[0].merke if merker else None


class KjoretoyBegrenset(EnkeltOppslagKjoretoydata):
    """akfell's vehicle with limited owner data (``KjoretoyMedBegrensedeEieropplysninger``)."""

    eierskap: EierskapBegrenset | None = None

    @property
    def eier_navn(self) -> str | None:
        """The eier's name (organisation name or full person name)."""
        eier = None if self.eierskap is None else self.eierskap.eier
        return None if eier is None else eier.navn


def _generelt(godkjenning: Godkjenning | None) -> Generelt | None:
    teknisk = None if godkjenning is None else godkjenning.teknisk_godkjenning
    data = None if teknisk is None else teknisk.tekniske_data
    return None if data is None else data.generelt


class KjennemerkeRequest(SvvModel):
    kjennemerke: str
    dtg: str | None = None


class KuidRequest(SvvModel):
    kuid: str
    dtg: str | None = None


class UnderstellsnummerRequest(SvvModel):
    understellsnummer: str


class KjennemerkeResponse(SvvModel):
    """One element of a ``bulk/kjennemerke`` answer: the vehicle, or a ``feilmelding``."""

    request: KjennemerkeRequest | None = None
    kjoretoydata: KjoretoyBegrenset | None = None
    feilmelding: str | None = None


class KuidResponse(SvvModel):
    request: KuidRequest | None = None
    kjoretoydata: KjoretoyBegrenset | None = None
    feilmelding: str | None = None


class UnderstellsnummerTreffWrapper(SvvModel):
    kjoretoydata: KjoretoyBegrenset | None = None
    feilmelding: str | None = None


class UnderstellsnummerResponse(SvvModel):
    request: UnderstellsnummerRequest | None = None
    feilmelding: str | None = None
    kjoretoydata_liste: list[UnderstellsnummerTreffWrapper] | None = Field(
        default=None, alias="kjoretoydataListe"
    )


class KjennemerkeBulkResponse(SvvModel):
    gjenstaende_kvote: int | None = Field(default=None, alias="gjenstaendeKvote")
    responser: list[KjennemerkeResponse] = Field(default_factory=list)


class KuidBulkResponse(SvvModel):
    gjenstaende_kvote: int | None = Field(default=None, alias="gjenstaendeKvote")
    responser: list[KuidResponse] = Field(default_factory=list)


class UnderstellsnummerBulkResponse(SvvModel):
    gjenstaende_kvote: int | None = Field(default=None, alias="gjenstaendeKvote")
    responser: list[UnderstellsnummerResponse] = Field(default_factory=list)


class KjoretoydataWrapper(SvvModel):
    kjoretoydata: KjoretoyBegrenset | None = None
    feilmelding: str | None = None


class FodselsnummerRequest(SvvModel):
    fodselsnummer: str
    etternavn: str
    dtg: str | None = None


class FodselsnummerResponse(SvvModel):
    """The ``person`` answer; ``feilmelding`` ``FNR_ETTERNAVN_UKJENT`` when nobody matches."""

    gjenstaende_kvote: int | None = Field(default=None, alias="gjenstaendeKvote")
    feilmelding: str | None = None
    request: FodselsnummerRequest | None = None
    kjoretoydata_liste: list[KjoretoydataWrapper] = Field(
        default_factory=list, alias="kjoretoydataListe"
    )


class OrganisasjonsnummerRequest(SvvModel):
    organisasjonsnummer: str
    dtg: str | None = None
    side: int | None = None
    antall: int | None = None


class OrganisasjonsnummerResponse(SvvModel):
    """One page of the ``organisasjon`` answer."""

    gjenstaende_kvote: int | None = Field(default=None, alias="gjenstaendeKvote")
    feilmelding: str | None = None
    request: OrganisasjonsnummerRequest | None = None
    kjoretoydata_liste: list[KjoretoydataWrapper] = Field(
        default_factory=list, alias="kjoretoydataListe"
    )


class KjoretoydataResponse(SvvModel):
    """The enkeltoppslag answer (no owner data)."""

    feilmelding: str | None = None
    kjoretoydata_liste: list[EnkeltOppslagKjoretoydata] = Field(
        default_factory=list, alias="kjoretoydataListe"
    )
